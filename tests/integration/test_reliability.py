#!/usr/bin/env python3
"""Reliability and isolation on file:// buckets: disk and resource faults,
a corrupt state, hostile keys and links, tenant isolation across
subscribers, and a valgrind run of the whole scenario.

Disk faults use a tiny or read-only tmpfs when this process may mount (root
in the CI machine), else a file-size limit and a state directory whose path
runs through a plain file.  Each case: a clear message, the documented exit
status, nothing lost (no commit; the next run completes).
Standard library only.  Ends with "N passed, N failed".
"""
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
_n = len(harness.TESTS)
from test_core import build_main_scenario, sub_tuples, check_outputs, A, B, C, X, Y, Z  # noqa: E402
del harness.TESTS[_n:]
from harness import Scenario, event, gz, lines, eq, test, main, BIN  # noqa: E402
import reference  # noqa: E402

PLAIN_BIN = os.environ.get("EVSHARE_PLAIN_BIN", "")


def can_mount():
    d = tempfile.mkdtemp(prefix="evshare-mnt-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d])
        return ok
    finally:
        os.rmdir(d)


MOUNT = can_mount()


def big_scenario(name, n=3000):
    sc = Scenario(name)
    sc.direct(A)
    rnd = random.Random(4)
    evs = [event("big-%05d" % i, A, data={"pad": "%x" % rnd.getrandbits(512)}) for i in range(n)]
    sc.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    sc.additional(X, [A])
    return sc, evs


@test
def test_spool_disk_full_commits_nothing_then_next_run_finishes():
    sc, evs = big_scenario("diskfull")
    mnt = sc.path("state")
    os.makedirs(mnt)
    try:
        if MOUNT:
            # mode 0750: a tmpfs is 1777 by default, a state directory evshare refuses
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k,mode=0750", "tmpfs", mnt],
                           check=True)
            p = sc.run("run", check=None)
            how = "a 160 KiB filesystem"
        else:
            limit = 96 * 1024
            p = subprocess.run([BIN, "-c", sc.write_config(), "run"], capture_output=True,
                               preexec_fn=lambda: resource.setrlimit(
                                   resource.RLIMIT_FSIZE, (limit, limit)))
            how = "a 96 KiB file-size limit"
        err = p.stderr.decode()
        eq(p.returncode, 74, "exit status with %s (stderr: %s)" % (how, err[-600:]))
        assert "No space left" in err or "too large" in err, err
        assert not os.path.exists(os.path.join(mnt, "state.json")), "committed on a full disk"
        eq(sc.objects(X), [], "nothing delivered")
        if MOUNT:
            subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
        p = sc.run("run", "--json", check=0)
        s = json.loads(p.stdout)
        assert s["resumed_run"]["committed"], "the interrupted run is finished"
        eq(sc.output_lines(X), evs, "each event delivered once")
    finally:
        if MOUNT:
            subprocess.run(["umount", mnt])
        sc.cleanup()


@test
def test_state_dir_not_writable():
    sc, evs = big_scenario("rostate", n=10)
    try:
        sc.run("run", check=0)
        first = sc.output_lines(X)
        sc.add_file(A, "second.ndjson", lines(event("second", A)))
        st = sc.path("state")
        if MOUNT:
            # the same state on a read-only filesystem
            copy = sc.path("state-copy")
            shutil.copytree(st, copy)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0750", "tmpfs", st], check=True)
            for f in os.listdir(copy):
                src = os.path.join(copy, f)
                (shutil.copytree if os.path.isdir(src) else shutil.copy2)(src, os.path.join(st, f))
            subprocess.run(["mount", "-o", "remount,ro", st], check=True)
        else:
            shutil.rmtree(st)
            with open(st, "w") as f:
                f.write("not a directory\n")
        try:
            p = sc.run("run", check=74)
            err = p.stderr.decode()
            assert "state" in err and ("Read-only" in err or "Not a directory" in err
                                      or "File exists" in err), err
            eq(sc.output_lines(X), first, "nothing new delivered without a state")
        finally:
            if MOUNT:
                subprocess.run(["umount", st])
                shutil.rmtree(st, ignore_errors=True)
                shutil.copytree(sc.path("state-copy"), st)
            else:
                os.remove(st)
        if not MOUNT:
            return
        sc.run("run", check=0)
        eq(sc.output_lines(X), first + [event("second", A)], "the next run catches up, once")
    finally:
        sc.cleanup()


@test
def test_corrupt_state_is_never_reset():
    sc, evs = big_scenario("corrupt", n=10)
    try:
        sc.run("run", check=0)
        for garbage in (b'{"version":1,"sources":', b"\x00\x01binary", b'{"version":99,"sources":{}}',
                        b'{"version":1,"sources":{"TN-aaaa-0001":{"files":[{"key":3}]}}}'):
            with open(sc.path("state", "state.json"), "wb") as f:
                f.write(garbage)
            p = sc.run("run", check=65)
            assert b"state.json" in p.stderr and b"corrupt" in p.stderr, p.stderr
            with open(sc.path("state", "state.json"), "rb") as f:
                eq(f.read(), garbage, "the corrupt state is left as it was")
            eq(sc.output_lines(X), evs, "nothing delivered again")
        p = sc.run("state", "show", check=65)
        assert b"corrupt" in p.stderr
        with open(sc.path("state", "plan.json"), "w") as f:
            f.write("{not json")
        os.remove(sc.path("state", "state.json"))
        p = sc.run("run", check=65)
        assert b"plan journal" in p.stderr, p.stderr
    finally:
        sc.cleanup()


@test
def test_missing_or_unreadable_config():
    d = tempfile.mkdtemp(prefix="evshare-cfg-")
    try:
        for path in (os.path.join(d, "missing.json"), d):
            p = subprocess.run([BIN, "-c", path, "run"], capture_output=True)
            eq(p.returncode, 78, "exit for config %s" % path)
            assert b"cannot read config" in p.stderr, p.stderr
    finally:
        shutil.rmtree(d)


@test
def test_subscribers_get_only_their_linked_sources():
    rnd = random.Random(3)
    sc = build_main_scenario(rnd, truncated=False)
    try:
        sc.run_json(check=0)
        links = {s["org_id"]: set(s["links"]) for s in sc.subs}
        for sub in (X, Y, Z):
            orgs = {json.loads(l)["org_id"] for l in sc.output_lines(sub)}
            assert orgs <= links[sub], "%s received %s, linked to %s" % (sub, orgs, links[sub])
            assert orgs, sub
        eq(links[Y], {B, C}, "Y is not linked to A")
    finally:
        sc.cleanup()


@test
def test_source_symlinks_are_never_followed():
    sc = Scenario("symlinks")
    outside = tempfile.mkdtemp(prefix="evshare-outside-")
    try:
        sc.direct(A)
        sc.add_file(A, "real.ndjson", lines(event("real", A)))
        with open(os.path.join(outside, "secret.ndjson"), "wb") as f:
            f.write(lines(event("secret", A)))
        os.makedirs(os.path.join(outside, "dir"))
        with open(os.path.join(outside, "dir", "also.ndjson"), "wb") as f:
            f.write(lines(event("also-secret", A)))
        src = sc.path(dict(sc.sources)[A])
        os.symlink(os.path.join(outside, "secret.ndjson"), os.path.join(src, "link.ndjson"))
        os.symlink(os.path.join(outside, "dir"), os.path.join(src, "linkdir"))
        sc.additional(X, [A])
        p = sc.run("run", check=0)
        assert b"symbolic link" in p.stderr, p.stderr
        eq(sc.output_lines(X), [event("real", A)], "only the real file is read")
    finally:
        sc.cleanup()
        shutil.rmtree(outside)


@test
def test_destination_symlink_is_not_written_through():
    sc = Scenario("dstlink")
    outside = tempfile.mkdtemp(prefix="evshare-outside-")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A)))
        sc.additional(X, [A])
        os.makedirs(sc.path("out"))
        os.symlink(outside, sc.path("out", X))
        p = sc.run("run", check=74)
        assert b"cannot write" in p.stderr, p.stderr
        eq(os.listdir(outside), [], "nothing written outside the destination")
        assert not os.path.exists(sc.path("state", "state.json")), "nothing committed"
    finally:
        sc.cleanup()
        shutil.rmtree(outside)


@test
def test_key_formats_and_org_ids_cannot_leave_the_prefix():
    sc = Scenario("keyfmt")
    try:
        sc.direct(A)
        for kf in ("../{run_id}-{seq}.gz", "/{run_id}-{seq}.gz", "a//{run_id}-{seq}.gz",
                   "a/./{run_id}-{seq}", "{run_id}-{seq}\x01", "a\\\\{run_id}-{seq}"):
            sc.subs = []
            sc.additional(X, [A], key_format=kf)
            sc.write_config()
            p = sc.run("check", check=78)
            assert b"key_format" in p.stderr, (kf, p.stderr)
        for org in ("..", "a/b", "x\ny", "TN a", ""):
            cfg = sc.config()
            cfg["additional_subscribers"] = [{"org_id": org, "links": [A],
                                              "destination": "file:out/"}]
            sc.write_config(cfg)
            p = sc.run("check", check=78)
            assert b"org_id" in p.stderr, (org, p.stderr)
    finally:
        sc.cleanup()


@test
def test_file_names_cannot_forge_lines_or_send_terminal_escapes():
    """A source key is the producer's to choose: a newline in it must not
    make a log line, a summary line or a listing line of its own, and an
    escape sequence must not reach the operator's terminal."""
    sc = Scenario("names")
    bad = "x\nevshare: error: forged\x1b[31m\tred.ndjson.gz"
    try:
        sc.direct(A)
        sc.add_file(A, "good.ndjson", lines(event("good", A)))
        full = gz(lines(*[event("t%d" % i, A) for i in range(200)]))
        sc.add_file(A, bad, full[:len(full) // 2])          # fails: truncated
        sc.additional(X, [A])
        outs = []
        p = sc.run("list", check=0)
        outs.append(p)
        listing = p.stdout.decode().splitlines()
        eq(len(listing), 2, "one listing line per file")
        assert all(len(ln.split("\t")) == 4 for ln in listing), listing
        p = sc.run("run", check=1)
        outs.append(p)
        assert b"\\nevshare: error: forged\\x1b[31m\\tred.ndjson.gz" in p.stderr, p.stderr
        p = sc.run("-v", "run", check=1)                    # failed again, logged per file
        outs.append(p)
        outs.append(sc.run("state", "show", check=0))
        for p in outs:
            for stream in (p.stdout, p.stderr):
                assert b"\x1b" not in stream, stream
                for ln in stream.decode().splitlines():
                    assert not ln.startswith("evshare: error: forged"), stream
                    assert "forged" not in ln or "x\\nevshare" in ln, ln
        eq(sc.output_lines(X), [event("good", A)], "the good file is delivered")
    finally:
        sc.cleanup()


@test
def test_valgrind_whole_scenario_no_leaks_no_invalid_accesses():
    if not PLAIN_BIN or not shutil.which("valgrind"):
        raise AssertionError("needs EVSHARE_PLAIN_BIN (a build without sanitizers) and valgrind")
    rnd = random.Random(1)
    sc = build_main_scenario(rnd, truncated=True)
    try:
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc), max_line_bytes=4096)
        sc.write_config()
        for args in (["run", "--json"], ["run"], ["state", "show"], ["list"]):
            p = subprocess.run(["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                                "--errors-for-leak-kinds=definite,indirect",
                                PLAIN_BIN, "-c", sc.path("evshare.json")] + args,
                               capture_output=True, timeout=600)
            assert p.returncode in (0, 1), "valgrind %s: exit %d\n%s" % (
                args, p.returncode, p.stderr.decode(errors="replace")[-3000:])
        check_outputs(sc, exp, [X, Y, Z])
    finally:
        sc.cleanup()


if __name__ == "__main__":
    main()
