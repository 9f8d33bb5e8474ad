#!/usr/bin/env python3
"""Reliability and isolation on file:// buckets: disk and resource faults,
a corrupt state, hostile keys and links, tenant isolation across
subscribers, a valgrind run of the whole scenario; and a hostile local
user (nobody) against a root run: a state directory others can write, a
planted plan journal, the metrics file's temporary; and the modes of what
a run creates under a umask.

Disk faults use a tiny or read-only tmpfs when this process may mount (root
in the CI machine), else a file-size limit and a state directory whose path
runs through a plain file.  Each case: a clear message, the documented exit
status, nothing lost (no commit; the next run completes).
Standard library only.  Ends with "N passed, N failed".
"""
import json
import os
import pwd
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
from harness import Scenario, Skip, event, gz, lines, eq, test, main, BIN, ROOT  # noqa: E402
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
        p = sc.run("run", "--json", check=65)       # a summary that says so
        s = json.loads(p.stdout)
        eq((s["status"], s["committed"], s["subscribers"]), ("failed", False, []), "--json")
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
        with open(sc.path("state", "state.json")) as f:
            eq(json.load(f)["pending"][0]["subscribers"], [X], "its outputs stay owed")
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


# -- a hostile local user ---------------------------------------------------
#
# The attacker is `nobody` (commands run with its uid and gid, and no other
# group); the victim is a root run, as from root's crontab.  Every path the
# attacker needs is made reachable for it.

def nobody():
    if os.geteuid() != 0:
        raise Skip("needs root: the victim run is root's, the attacker is nobody")
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid


def as_nobody(fn, *args):
    """fn(*args) in a child process with nobody's uid and gid, and no other
    group (no exec: what the child runs is this file's code)."""
    uid, gid = nobody()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            fn(*args)
            status = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    eq(status, 0, "what nobody did (%s%r)" % (fn.__name__, args))


def plant_predicted_temps(dirpath, target, *names):
    """As nobody: NAME.tmp.PID -> target for the next 4000 process ids, the
    temporary names evshare used to write through (O_CREAT|O_TRUNC)."""
    def plant():
        with open("/proc/sys/kernel/ns_last_pid") as f:
            last = int(f.read())
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        # past pid_max Linux starts again at 300 (RESERVED_PIDS)
        pids = sorted({p if p < pid_max else 300 + (p - pid_max) % (pid_max - 300)
                       for p in range(last + 1, last + 4000)})
        for name in names:
            for pid in pids:
                os.symlink(target, os.path.join(dirpath, "%s.tmp.%d" % (name, pid)))
    as_nobody(plant)


def copy_as_nobody(src, dst):
    def copy():
        shutil.copyfile(src, dst)
    as_nobody(copy)


def precious(sc, name):
    """A root-owned file that nobody cannot write."""
    d = sc.path("root-only")
    os.makedirs(d, mode=0o755, exist_ok=True)
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write("precious\n")
    return p


def check_precious(p):
    with open(p) as f:
        eq(f.read(), "precious\n", "the content of %s" % p)


def hostile_scenario(name):
    sc = Scenario(name)
    os.chmod(sc.dir, 0o755)
    sc.direct(A)
    sc.add_file(A, "f.ndjson", lines(event("secret-1", A), event("secret-2", A)))
    sc.additional(X, [A])
    return sc


@test
def test_attack_state_dir_writable_by_others_is_refused():
    """A state directory others can write (world-writable like /tmp, or
    writable by the attacker's group): the attacker planted state.json as
    a link to a file it cannot write, or links at the temporary names a run
    used to write through.  The root run refuses (74, the message names the
    directory and the fix), writes nothing anywhere, follows no link."""
    sc = hostile_scenario("attack-a")
    try:
        uid, gid = nobody()
        target = precious(sc, "target")
        st = sc.path("state")
        for mode, group, how in ((0o1777, 0, "others"), (0o777, 0, "others"),
                                 (0o770, gid, "its group")):
            for plant in ("state.json", "temporaries"):
                shutil.rmtree(st, ignore_errors=True)
                os.mkdir(st)
                os.chown(st, 0, group)
                os.chmod(st, mode)
                if plant == "state.json":
                    as_nobody(os.symlink, target, os.path.join(st, "state.json"))
                else:
                    plant_predicted_temps(st, target, "state.json", "plan.json")
                before = sorted(os.listdir(st))
                p = sc.run("run", check=74)
                err = p.stderr.decode()
                assert ("state directory '%s' is writable by %s (mode %04o)" % (st, how, mode)
                        in err and "chmod go-w '%s'" % st in err), err
                check_precious(target)
                eq(sorted(os.listdir(st)), before, "nothing made in the state directory")
                eq(sc.objects(X), [], "nothing delivered")
                # a look at it is refused too
                p = sc.run("state", "show", check=74)
                assert b"writable by" in p.stderr, p.stderr
        # made safe, the state directory works
        shutil.rmtree(st)
        sc.run("run", check=0)
        eq(sc.output_lines(X), [event("secret-1", A), event("secret-2", A)], "delivered once")
        check_precious(target)
    finally:
        sc.cleanup()


def evil_plan(sc, evil_root):
    """The plan journal of a run whose configuration adds subscriber Z, with
    its destination at evil_root/drop/: made by a run killed once it has
    journaled its plan (the crash shim), then drop made the attacker's."""
    so = os.environ.get("CRASHPOINT_SO")
    if not so or not os.path.exists(so):
        raise AssertionError("CRASHPOINT_SO not set: build tests/tools/crashpoint.c")
    cfg = sc.config()
    cfg["state_dir"] = "evil-state"
    cfg["additional_subscribers"] = cfg["additional_subscribers"] + [
        {"org_id": Z, "links": [A], "destination": "file://%s/drop/" % evil_root}]
    with open(sc.path("evil.json"), "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ, LD_PRELOAD=so, ASAN_OPTIONS="detect_leaks=1:verify_asan_link_order=0")
    for n in range(1, 40):
        p = subprocess.run([BIN, "-c", sc.path("evil.json"), "run"], capture_output=True,
                           env=dict(env, CRASHPOINT_AT=str(n)))
        eq(p.returncode, -9, "killed at %d: %s" % (n, p.stderr.decode()))
        if os.path.exists(sc.path("evil-state", "plan.json")):
            break
        shutil.rmtree(sc.path("evil-state"), ignore_errors=True)
    with open(sc.path("evil-state", "plan.json"), "rb") as f:
        plan = f.read()
    assert Z.encode() in plan, plan
    shutil.rmtree(sc.path("evil-state"))
    shutil.rmtree(sc.path("out"), ignore_errors=True)
    drop = os.path.join(evil_root, "drop")
    uid, gid = nobody()
    os.mkdir(drop, 0o755)
    os.chown(drop, uid, gid)
    return plan


@test
def test_attack_planted_plan_journal_delivers_nothing():
    """The attacker can write the state directory (by its group, or it owns
    it: the service user's state, run by root) and plants plan.json with a
    configuration that adds a subscriber whose destination it reads: the
    next run would "finish the interrupted run" there.  The root run
    refuses (74), nothing reaches the attacker, the journal is left as it
    is.  A read-only look at the attacker's own state is allowed when
    nothing in it is writable by others (list, state show), and runs
    nothing."""
    sc = hostile_scenario("attack-b")
    try:
        uid, gid = nobody()
        evil_root = sc.path("evil")
        os.mkdir(evil_root, 0o755)
        plan = evil_plan(sc, evil_root)
        carrier = sc.path("carrier.json")
        with open(carrier, "wb") as f:
            f.write(plan)
        os.chmod(carrier, 0o644)
        st = sc.path("state")
        cases = (("group-writable", 0, gid, 0o770,
                  "state directory '%s' is writable by its group (mode 0770)" % st),
                 ("the attacker's", uid, gid, 0o750,
                  "state directory '%s' belongs to uid %d, but evshare runs as uid 0" % (st, uid)))
        for what, owner, group, mode, msg in cases:
            shutil.rmtree(st, ignore_errors=True)
            os.mkdir(st)
            os.chown(st, owner, group)
            os.chmod(st, mode)
            copy_as_nobody(carrier, os.path.join(st, "plan.json"))
            p = sc.run("run", check=74)
            err = p.stderr.decode()
            assert msg in err, (what, err)
            eq(os.listdir(os.path.join(evil_root, "drop")), [], "delivered to the attacker (%s)"
               % what)
            eq(sc.objects(X), [], "nothing delivered (%s)" % what)
            with open(os.path.join(st, "plan.json"), "rb") as f:
                eq(f.read(), plan, "the planted journal is left as it is")
            eq(sorted(os.listdir(st)), ["plan.json"], "nothing made in the state (%s)" % what)
            if owner == uid:
                p = sc.run("list", check=0)
                assert b"interrupted run is pending" in p.stderr, p.stderr
                sc.run("state", "show", check=0)
            else:
                sc.run("list", check=74)
        eq(os.listdir(os.path.join(evil_root, "drop")), [], "nothing for the attacker")
    finally:
        sc.cleanup()


@test
def test_attack_metrics_temporary_is_not_written_through():
    """The metrics file lives in the collector's directory, which others
    may write (node_exporter's textfile directory is group-writable by
    design).  The attacker planted links at the temporary names of the
    next process ids and at the metrics file itself: the root run writes
    through none of them and replaces the link at PATH with its file."""
    sc = hostile_scenario("attack-c")
    try:
        uid, gid = nobody()
        target, target2 = precious(sc, "target"), precious(sc, "target2")
        tdir = sc.path("textfile")
        os.mkdir(tdir)
        os.chown(tdir, 0, gid)
        os.chmod(tdir, 0o1777)
        mpath = os.path.join(tdir, "evshare.prom")
        plant_predicted_temps(tdir, target, "evshare.prom")
        as_nobody(os.symlink, target2, mpath)
        p = subprocess.run([BIN, "-c", sc.write_config(), "run", "--metrics-file", mpath],
                           capture_output=True, preexec_fn=lambda: os.umask(0o022))
        eq(p.returncode, 0, "exit status: %s" % p.stderr.decode())
        check_precious(target)
        check_precious(target2)
        stt = os.lstat(mpath)
        assert not os.path.islink(mpath), "the link at the metrics path is still there"
        eq((stt.st_uid, stt.st_mode & 0o7777), (0, 0o644), "owner and mode of the metrics file")
        with open(mpath) as f:
            assert "evshare_last_run_exit_status 0" in f.read()
        left = [n for n in os.listdir(tdir) if not os.path.islink(os.path.join(tdir, n))]
        eq(left, ["evshare.prom"], "no temporary of the run left")
    finally:
        sc.cleanup()


# -- modes -------------------------------------------------------------------

def run_with_umask(sc, mask, *args, check=0):
    p = subprocess.run([BIN, "-c", sc.write_config()] + list(args), capture_output=True,
                       preexec_fn=lambda: os.umask(mask))
    eq(p.returncode, check, "exit status: %s" % p.stderr.decode())
    return p


def modes_under(root):
    """{relative path: mode} of everything under root (root included)."""
    out = {".": os.stat(root).st_mode & 0o7777}
    for dp, dns, fns in os.walk(root):
        for n in dns + fns:
            full = os.path.join(dp, n)
            out[os.path.relpath(full, root)] = os.lstat(full).st_mode & 0o7777
    return out


@test
def test_outputs_and_state_follow_the_umask():
    """file:// outputs are 0640 less the umask (0640 under 022, 0600 under
    077), the directories made for them 0750 less the umask; both when the
    spool file is linked into place (same filesystem) and when it is
    copied (/dev/shm); the state the same."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    for mask, fmode, dmode in ((0o022, 0o640, 0o750), (0o077, 0o600, 0o700)):
        sc = Scenario("modes")
        other = tempfile.mkdtemp(prefix="evshare-modes-", dir=shm) if shm else None
        try:
            sc.direct(A)
            sc.add_file(A, "f.ndjson", lines(event("1", A), b"{bad", event("2", A)))
            sc.additional(X, [A])
            copied = other and os.stat(other).st_dev != os.stat(sc.dir).st_dev
            if copied:
                sc.additional(Y, [A], destination="file://%s/out/" % other)
            run_with_umask(sc, mask, "run")
            roots = [sc.path("out")] + ([os.path.join(other, "out")] if copied else [])
            for root in roots:
                got = modes_under(root)
                files = [k for k in got if k.endswith(".gz")]
                assert files, got
                for k, m in got.items():
                    eq(m, fmode if k in files else dmode, "mode of %s/%s under umask %04o"
                       % (root, k, mask))
            st = modes_under(sc.path("state"))
            eq({k: m for k, m in st.items() if not k.startswith("quarantine/")},
               {".": dmode, "quarantine": dmode, "spool": dmode, "lock": fmode,
                "state.json": fmode}, "the state under umask %04o" % mask)
            eq(len([k for k in st if k.startswith("quarantine/")]), 1, "a quarantine file")
            if not copied:
                print("     (no other filesystem for the copy path: only linked outputs)")
        finally:
            sc.cleanup()
            if other:
                shutil.rmtree(other, ignore_errors=True)


@test
def test_quarantine_file_is_private():
    """The bad lines of a run are other tenants' data: the quarantine file
    is 0600 whatever the umask (0600 under 022)."""
    sc = Scenario("qmode")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A), b"{bad"))
        sc.additional(X, [A])
        run_with_umask(sc, 0o022, "run")
        q = os.listdir(sc.path("state", "quarantine"))
        eq(len(q), 1, "one quarantine file")
        eq(os.stat(sc.path("state", "quarantine", q[0])).st_mode & 0o7777, 0o600,
           "the mode of the quarantine file")
    finally:
        sc.cleanup()


if __name__ == "__main__":
    main()
