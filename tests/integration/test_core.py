#!/usr/bin/env python3
"""Integration tests of evshare on file:// buckets: the whole run, bad
input, exactly-once across crashes, and the command line.

Each test builds fixture buckets, runs the built binary, and compares every
subscriber's output with what reference.py (json + gzip only) computes."""
import fcntl
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Scenario, event, gz, lines, eq, test, main, quarantined_bytes,  # noqa: E402
                     read_state, BIN, ROOT)
import reference  # noqa: E402

A, B, C = "TN-aaaa-0001", "TN-bbbb-0002", "TN-cccc-0003"
X, Y, Z = "TN-partner-x", "TN-partner-y", "TN-partner-z"
DOMAINS = [("onboarding", "succeeded"), ("onboarding", "failed"), ("payments", "settled"),
           ("accounts", "updated")]


def random_events(rnd, org, n, prefix):
    out = []
    for i in range(n):
        d, t = rnd.choice(DOMAINS)
        out.append(event("%s-%04d" % (prefix, i), org, d, t,
                         data={"channel": rnd.choice(["app", "web"]),
                               "amount": rnd.randrange(1, 10000),
                               "tags": [rnd.choice(["a", "b", "c"])]}))
    return out


def check_outputs(sc, exp, subs):
    for s in subs:
        eq(sc.output_lines(s), exp.lines[s], "output lines of %s" % s)


def check_summary(summary, exp, subs):
    ev = summary["events"]
    eq(ev["read"], exp.read, "events.read")
    eq(ev["malformed"], exp.malformed, "events.malformed")
    eq(ev["rejected"], exp.rejected, "events.rejected")
    eq(ev["matched"], sum(exp.matched[s] for s in subs), "events.matched")
    eq(ev["duplicates"], sum(exp.duplicates[s] for s in subs), "events.duplicates")
    eq(ev["written"], ev["matched"] - ev["duplicates"], "written = matched - duplicates")
    eq(summary["files"]["processed"], exp.processed_files, "files.processed")
    eq(summary["files"]["failed"], len(exp.failed_files), "files.failed")
    for so in summary["subscribers"]:
        if so["org_id"] in exp.lines:
            eq(so["events"], len(exp.lines[so["org_id"]]), "events of " + so["org_id"])
            eq(so["duplicates"], exp.duplicates[so["org_id"]], "duplicates of " + so["org_id"])


def check_quarantine(sc, exp):
    got = sorted((r["source"], r["url"].rsplit("/events/", 1)[1], r["line"], r["kind"],
                  quarantined_bytes(r)) for r in sc.quarantine())
    want = sorted(exp.quarantine)
    eq(got, want, "quarantine")


def sub_tuples(sc):
    out = []
    for s in sc.subs:
        out.append((s["org_id"], s["links"], s.get("filter"), s.get("dedup", True)))
    return out


def build_main_scenario(rnd, truncated=True):
    """Three direct and three additional subscribers: duplicates across
    sources, filters (one on a nested field), bad lines, odd keys, nested
    directories, multi-member gzip, plain NDJSON with CRLF, an empty file and
    (optionally) a truncated gzip file."""
    sc = Scenario("main")
    sc.extra["max_line_bytes"] = 4096
    for org in (A, B, C):
        sc.direct(org)
    ea = random_events(rnd, A, 40, "a")
    sc.add_file(A, "2026/11/27/a-0001.ndjson.gz", gz(lines(*ea[:20])))
    sc.add_file(A, "2026/11/27/nested dir/odd key+2=x%41 é.ndjson.gz", gz(lines(*ea[20:30])))
    sc.add_file(A, "2026/11/27/multi-member.ndjson.gz",
                gz(lines(*ea[30:35])) + gz(lines(*ea[35:40])))
    plain = b"".join(l + b"\r\n" for l in random_events(rnd, A, 6, "a-plain"))
    sc.add_file(A, "2026/11/27/plain-crlf.ndjson", plain.replace(b"\r\n", b"\r\n\r\n  \t\r\n", 1))
    sc.add_file(A, "2026/11/27/empty.ndjson.gz", b"")
    eb = random_events(rnd, B, 30, "b")
    # duplicates: ids seen in A (with B's own org_id) and within B
    dup_a = [event("a-%04d" % i, B, "onboarding", "succeeded", data={"channel": "app"})
             for i in (1, 2, 3)]
    bad = [b'{"event_id":"bad-1","domain":"onboarding"',                     # malformed JSON
           b'{"event_id":"bad-2\xff","org_id":"%s"}' % B.encode(),            # invalid UTF-8
           json.dumps({"event_id": "bad-3", "org_id": B, "domain": "d", "event_type": "t",
                       "timestamp": "x"}).encode(),                           # missing field
           json.dumps({"event_id": "bad-4", "org_id": B, "domain": "d", "event_type": "t",
                       "timestamp": "x", "schema_version": "1"}).encode(),    # mistyped
           event("bad-5", A),                                                 # other tenant
           event("bad-6", B, data={"blob": "x" * 5000}),                      # over-long
           b'[1,2,3]']                                                        # not an object
    sc.add_file(B, "2026/11/27/b-0001.ndjson.gz",
                gz(lines(*(eb[:10] + dup_a + bad + [eb[0]] + eb[10:15]))))
    if truncated:
        full = gz(lines(*random_events(rnd, B, 50, "b-trunc")))
        sc.add_file(B, "2026/11/27/b-truncated.ndjson.gz", full[:len(full) // 2])
    sc.add_file(B, "2026/11/27/b-0003.ndjson.gz", gz(lines(*eb[15:])))
    ec = random_events(rnd, C, 25, "c")
    sc.add_file(C, "c/2026-11-27/c-0001.json.gz", gz(lines(*ec)))
    sc.additional(X, [A, B], filter={"domain": ["onboarding"], "event_type": ["succeeded"]})
    sc.additional(Y, [B, C])
    sc.additional(Z, [A, B, C], filter={"data": {"channel": ["app"]}},
                  key_format="{source}/{subscriber}/{run_id}-{seq}.ndjson.gz",
                  max_object_bytes=1024)
    return sc


@test
def test_main_scenario_end_to_end():
    rnd = random.Random(1)
    sc = build_main_scenario(rnd)
    try:
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc), max_line_bytes=4096)
        assert exp.failed_files and exp.malformed >= 6 and exp.rejected == 1
        assert sum(exp.duplicates.values()) >= 3
        s = sc.run_json(check=1)
        eq(s["status"], "partial", "status")
        check_summary(s, exp, [X, Y, Z])
        check_outputs(sc, exp, [X, Y, Z])
        check_quarantine(sc, exp)
        eq([f["url"].endswith("b-truncated.ndjson.gz") for f in s["failed_files"]], [True],
           "failed files")
        zobj = sc.objects(Z)
        srcs = [k.split("/")[0] for k, _ in zobj]
        eq(sorted(set(srcs)), [A, B, C], "Z has objects of every source")
        eq(srcs, sorted(srcs, key=[A, B, C].index), "Z's objects follow the source order")
        for key, data in zobj:
            orgs = {json.loads(l)["org_id"] for l in gzip.decompress(data).splitlines()}
            eq(orgs, {key.split("/")[0]}, "{source} objects hold that source's events")
        for so in s["subscribers"]:
            eq(len(so["objects"]), len(sc.objects(so["org_id"])), "objects listed in summary")
        retried_fixed_then_idle(sc, exp)
    finally:
        sc.cleanup()


def retried_fixed_then_idle(sc, exp):
    """The end of the core scenario, after its first run: the truncated file
    is retried and fails again with nothing else moving; once its producer
    completes it, it is read once in a new run; then a run finds nothing,
    writes nothing and leaves the state alone."""
    before = sc.snapshot()
    s2 = sc.run_json(check=1)
    eq(s2["files"]["planned"], 1, "only the failed file is planned again")
    eq(sc.snapshot(), before, "outputs after the retry")
    key = "2026/11/27/b-truncated.ndjson.gz"
    data = gz(lines(*random_events(random.Random(7), B, 50, "b-fixed")))
    sc.put_source(B, key, data)
    s3 = sc.run_json(check=0)
    eq(s3["files"]["processed"], 1, "the fixed file is processed")
    exp3 = reference.expected([(B, [(key, data)])], sub_tuples(sc), max_line_bytes=4096)
    for sub in (X, Y, Z):
        got = [ln for ln in sc.output_lines(sub) if ln not in exp.lines[sub]]
        eq(got, exp3.lines[sub], "lines of the fixed file for " + sub)
    before = sc.snapshot()
    state_before = read_state(sc)
    s4 = sc.run_json(check=0)
    eq(s4["files"]["planned"], 0, "idle run plans nothing")
    eq(sc.snapshot(), before, "idle run outputs")
    eq(read_state(sc), state_before, "idle run leaves the state alone")


def one_bad_line(bad, name, max_line=None):
    """A source with good lines around one bad line; returns (scenario, summary)."""
    sc = Scenario(name)
    sc.direct(A)
    if max_line:
        sc.extra["max_line_bytes"] = max_line
    good1, good2 = event("g1", A), event("g2", A)
    sc.add_file(A, "f.ndjson.gz", gz(lines(good1, bad, good2)))
    sc.additional(X, [A])
    s = sc.run_json(check=0)
    eq(sc.output_lines(X), [good1, good2], "good lines delivered")
    return sc, s


def check_one_quarantined(sc, kind, reason_part, path, raw):
    q = sc.quarantine()
    eq(len(q), 1, "quarantine records")
    r = q[0]
    eq(r["kind"], kind, "kind")
    eq(r["line"], 2, "line number")
    eq(r["path"], path, "JSON path")
    assert reason_part in r["reason"], "reason %r lacks %r" % (r["reason"], reason_part)
    assert r["url"].endswith("/f.ndjson.gz"), r["url"]
    eq(quarantined_bytes(r), raw, "original bytes kept")


@test
def test_bad_malformed_json():
    bad = b'{"event_id":"x","org_id":' + A.encode()
    sc, s = one_bad_line(bad, "malformed")
    try:
        eq(s["events"]["malformed"], 1, "malformed")
        check_one_quarantined(sc, "malformed", "invalid JSON", "$", bad)
    finally:
        sc.cleanup()


@test
def test_bad_invalid_utf8():
    bad = event("u-X", A).replace(b"u-X", b"u-\xe9")
    sc, s = one_bad_line(bad, "utf8")
    try:
        check_one_quarantined(sc, "malformed", "invalid UTF-8", "$", bad)
        assert "base64" in sc.quarantine()[0], "invalid UTF-8 is kept as base64"
    finally:
        sc.cleanup()


@test
def test_bad_missing_field():
    d = json.loads(event("m", A))
    del d["domain"]
    bad = json.dumps(d).encode()
    sc, s = one_bad_line(bad, "missing")
    try:
        check_one_quarantined(sc, "malformed", "missing required field", "$.domain", bad)
    finally:
        sc.cleanup()


@test
def test_bad_mistyped_fields():
    for field, value, why in (("schema_version", "1", "expected an integer"),
                              ("schema_version", 1.5, "non-integer"),
                              ("event_id", 7, "expected a string"),
                              ("timestamp", None, "expected a string")):
        d = json.loads(event("t", A))
        d[field] = value
        bad = json.dumps(d).encode()
        sc, s = one_bad_line(bad, "mistyped")
        try:
            check_one_quarantined(sc, "malformed", why, "$." + field, bad)
        finally:
            sc.cleanup()


@test
def test_bad_other_org_is_rejected_never_forwarded():
    bad = event("other", B)
    sc, s = one_bad_line(bad, "tenant")
    try:
        eq(s["events"]["rejected"], 1, "rejected")
        check_one_quarantined(sc, "rejected", "tenant guard", "$.org_id", bad)
        # an escaped spelling of the right org_id is the same org_id
        sc2 = Scenario("tenant-escape")
        sc2.direct(A)
        esc = event("esc", A).replace(b"TN-aaaa", b"TN-\\u0061aaa")
        sc2.add_file(A, "f.ndjson", lines(esc))
        sc2.additional(X, [A])
        sc2.run_json(check=0)
        eq(sc2.output_lines(X), [esc], "escaped org_id is accepted, bytes unchanged")
        sc2.cleanup()
    finally:
        sc.cleanup()


@test
def test_bad_keys_nul_key_and_nested_duplicate_are_quarantined():
    """Two attacks on readers that disagree about keys, from A's source: a
    key "org_id\u0000" claiming B (cJSON reads it as "org_id") next to the
    real org_id, and a repeated data.visibility (the filter saw the first,
    "public"; Python and jq read the last, "internal-only").  Both lines are
    malformed: quarantined with the key's path, counted, never delivered."""
    rest = (b'"event_id":"%s","domain":"onboarding","event_type":"succeeded",'
            b'"schema_version":1,"cid":"c","timestamp":"2026-11-27T00:00:00.000Z"')
    nul = (b'{"org_id\\u0000":"' + B.encode() + b'","org_id":"' + A.encode() + b'",' +
           rest % b"nul-1" + b',"data":{"visibility":"public"}}')
    dup = (b'{"org_id":"' + A.encode() + b'",' + rest % b"dup-1" +
           b',"data":{"visibility":"public","visibility":"internal-only"}}')
    good = event("good-1", A, data={"visibility": "public"})
    # what the attacks rely on: a last-wins reader sees another value
    eq(json.loads(dup)["data"]["visibility"], "internal-only", "Python reads the last")
    eq(json.loads(nul)["org_id\x00"], B, "the first key is org_id and a NUL")
    sc = Scenario("bad-keys")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(nul, dup, good))
        sc.additional(X, [A], filter={"data": {"visibility": [{"anything-but": "internal-only"}]}})
        sc.additional(Y, [A])
        s = sc.run_json(check=0)
        eq(s["events"]["malformed"], 2, "events.malformed")
        eq(s["events"]["rejected"], 0, "events.rejected")
        eq(sc.output_lines(X), [good], "filtered subscriber: the good event only")
        eq(sc.output_lines(Y), [good], "unfiltered subscriber: the good event only")
        q = sorted(sc.quarantine(), key=lambda r: r["line"])
        eq([(r["line"], r["kind"], r["path"], r["reason"], quarantined_bytes(r)) for r in q],
           [(1, "malformed", "$['org_id\\u0000']", "control character in key", nul),
            (2, "malformed", "$.data.visibility", "duplicate key", dup)],
           "quarantine records")
        for r in q:
            assert r["url"].endswith("/f.ndjson"), r["url"]
            eq(r["source"], A, "source")
    finally:
        sc.cleanup()


@test
def test_bad_overlong_line():
    bad = event("long", A, data={"blob": "y" * 3000})
    sc, s = one_bad_line(bad, "overlong", max_line=1024)
    try:
        check_one_quarantined(sc, "malformed", "longer than max_line_bytes", "$", bad)
        eq(sc.quarantine()[0]["bytes"], len(bad), "byte count")
    finally:
        sc.cleanup()


@test
def test_crlf_blank_lines_and_last_line_without_newline():
    sc = Scenario("crlf")
    try:
        sc.direct(A)
        e1, e2, e3 = event("1", A), event("2", A), event("3", A)
        sc.add_file(A, "f.ndjson", e1 + b"\r\n\r\n   \t\n" + e2 + b"\r\n\n" + e3)
        sc.additional(X, [A])
        s = sc.run_json(check=0)
        eq(sc.output_lines(X), [e1, e2, e3], "lines, terminators normalised to LF")
        eq(s["events"]["read"], 3, "blank lines are not counted")
        eq(s["events"]["malformed"], 0, "blank lines are not malformed")
    finally:
        sc.cleanup()


@test
def test_truncated_gzip_fails_whole_file_and_is_retried():
    sc = Scenario("truncated")
    try:
        sc.direct(A)
        good = gz(lines(event("ok", A)))
        full = gz(lines(*[event("t%d" % i, A, data={"n": i}) for i in range(200)]))
        sc.add_file(A, "1-good.ndjson.gz", good)
        sc.add_file(A, "2-truncated.ndjson.gz", full[:-9])
        sc.add_file(A, "3-badcrc.ndjson.gz", full[:-8] + bytes([full[-8] ^ 1]) + full[-7:])
        sc.additional(X, [A])
        s = sc.run_json(check=1)
        eq(s["status"], "partial", "status")
        eq(s["files"]["failed"], 2, "failed files")
        eq(sc.output_lines(X), [event("ok", A)], "nothing of a failed file is forwarded")
        eq(sc.quarantine(), [], "nothing of a failed file is quarantined")
        reasons = " ".join(f["reason"] for f in s["failed_files"])
        assert "truncated" in reasons and "check" in reasons, reasons
        s2 = sc.run_json(check=1)
        eq(s2["files"]["planned"], 2, "failed files are retried")
    finally:
        sc.cleanup()


@test
def test_corrupt_file_found_late_delivers_nothing():
    """A file is read once and delivered as it goes; its objects are put
    only after its last CRC checked out.  Here it fills many objects before
    its CRC turns out wrong: none of them may reach the destination, the
    run starts over without it, and the good files come out as usual."""
    sc = Scenario("latecrc")
    try:
        sc.direct(A)
        rnd = random.Random(9)
        good1 = [event("g1-%03d" % i, A, data={"n": "%x" % rnd.getrandbits(128)}) for i in range(50)]
        big = [event("bad-%05d" % i, A, data={"n": "%x" % rnd.getrandbits(128)}) for i in range(3000)]
        good2 = [event("g2-%03d" % i, A, data={"n": "%x" % rnd.getrandbits(128)}) for i in range(50)]
        sc.add_file(A, "1.ndjson.gz", gz(lines(*good1)))
        data = gz(lines(*big))
        sc.add_file(A, "2.ndjson.gz", data[:-8] + bytes([data[-8] ^ 1]) + data[-7:])
        sc.add_file(A, "3.ndjson.gz", gz(lines(*good2)))
        sc.additional(X, [A], max_object_bytes=4096)
        p = sc.run("run", "--json", check=1)
        s = json.loads(p.stdout)
        assert b"starts over" in p.stderr, p.stderr
        eq(s["files"]["failed"], 1, "the corrupt file failed")
        eq(s["files"]["processed"], 2, "the others were processed")
        eq(sc.output_lines(X), good1 + good2, "nothing of the corrupt file was put")
        eq(s["subscribers"][0]["events"], 100, "counts are those of the second attempt")
        eq(len(s["subscribers"][0]["objects"]), len(sc.objects(X)), "no stray object")
        eq(os.listdir(sc.path("state", "spool")), [], "spool cleaned")
    finally:
        sc.cleanup()


@test
def test_poisoned_after_max_attempts_then_forget():
    sc = Scenario("poison")
    try:
        sc.direct(A)
        sc.extra["max_attempts"] = 2
        full = gz(lines(*[event("p%d" % i, A) for i in range(50)]))
        p = sc.add_file(A, "bad.ndjson.gz", full[:-12])
        sc.additional(X, [A])
        sc.run_json(check=1)
        s = sc.run(["run", "--json"][0], "--json", check=1)
        assert b"poisoned" in s.stderr, s.stderr
        s3 = sc.run_json(check=0)
        eq(s3["files"]["planned"], 0, "poisoned file skipped")
        eq(len(s3["poisoned_files"]), 1, "poisoned file reported")
        show = json.loads(sc.run("state", "show", "--json", check=0).stdout)
        eq(show["sources"][0]["poisoned"], 1, "state show counts it")
        url = s3["poisoned_files"][0]["url"]
        sc.run("state", "forget", url, check=0)
        with open(p, "wb") as f:
            f.write(full)
        s4 = sc.run_json(check=0)
        eq(s4["files"]["processed"], 1, "re-enabled file is read")
        eq(len(sc.output_lines(X)), 50, "its events are delivered")
    finally:
        sc.cleanup()


@test
def test_non_gzip_and_empty_files():
    sc = Scenario("plain")
    try:
        sc.direct(A)
        e = event("plain", A)
        sc.add_file(A, "plain.json.gz", lines(e))      # a misleading name
        sc.add_file(A, "empty.gz", b"")
        sc.add_file(A, "one-byte", b"\n")
        sc.additional(X, [A])
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], 3, "all three processed")
        eq(sc.output_lines(X), [e], "plain NDJSON recognised by content")
    finally:
        sc.cleanup()


@test
def test_subscriber_without_matches_gets_no_object():
    sc = Scenario("nomatch")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A, "payments")))
        sc.additional(X, [A], filter={"domain": ["onboarding"]})
        s = sc.run_json(check=0)
        eq(sc.objects(X), [], "no empty object")
        eq(s["subscribers"][0]["objects"], [], "summary lists none")
    finally:
        sc.cleanup()


@test
def test_rotation_at_max_object_bytes():
    sc = Scenario("rotation")
    try:
        sc.direct(A)
        rnd = random.Random(3)
        evs = [event("r%05d" % i, A, data={"noise": "%x" % rnd.getrandbits(256)})
               for i in range(400)]
        sc.add_file(A, "f.ndjson.gz", gz(lines(*evs)))
        sc.additional(X, [A], max_object_bytes=4096)
        sc.run_json(check=0)
        objs = sc.objects(X)
        assert len(objs) >= 4, len(objs)
        for i, (key, data) in enumerate(objs):
            assert key.endswith("-%06d.ndjson.gz" % (i + 1)), key
            if i < len(objs) - 1:
                assert len(data) >= 4096, "rotated early: %d" % len(data)
        eq(sc.output_lines(X), evs, "all lines, in order, across objects")
    finally:
        sc.cleanup()


@test
def test_second_run_holds_lock_exits_75():
    sc = Scenario("lock")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A)))
        sc.additional(X, [A])
        os.makedirs(sc.path("state"), exist_ok=True)
        with open(sc.path("state", "lock"), "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            p = sc.run("run", check=75)
            assert b"lock" in p.stderr, p.stderr
        eq(sc.objects(X), [], "nothing done while locked")
        sc.run("run", check=0)
    finally:
        sc.cleanup()


def crash_scenario():
    rnd = random.Random(11)
    sc = build_main_scenario(rnd, truncated=True)
    return sc


@test
def test_crash_at_random_points_exactly_once():
    """SIGKILL the run before the Nth file-changing call (puts, journal
    appends, state commit...), at 24 points; rerun; every expected line must
    arrive exactly once and objects written before the crash must come back
    byte-identical."""
    so = os.environ.get("CRASHPOINT_SO")
    if not so or not os.path.exists(so):
        raise AssertionError("CRASHPOINT_SO not set: build tests/tools/crashpoint.c")
    pristine = crash_scenario()
    try:
        pristine.write_config()
        exp = reference.expected(pristine.expected_inputs(), sub_tuples(pristine),
                                 max_line_bytes=4096)
        env = {"LD_PRELOAD": so, "ASAN_OPTIONS": "detect_leaks=1:verify_asan_link_order=0"}
        probe = pristine.dir + "-probe"
        shutil.copytree(pristine.dir, probe)
        count_file = probe + "/count"
        subprocess.run([BIN, "-q", "-c", probe + "/evshare.json", "run"],
                       env=dict(os.environ, CRASHPOINT_COUNT=count_file, **env),
                       capture_output=True)
        with open(count_file) as f:
            total = int(f.read())
        shutil.rmtree(probe)
        rnd = random.Random(int(os.environ.get("CRASH_SEED", "20261127")))
        points = sorted(set([1, 2, total - 1, total] +
                            [rnd.randrange(1, total + 1) for _ in range(40)]))[:24]
        assert len(points) >= 20, points
        killed = 0
        for n in points:
            d = pristine.dir + "-crash-%d" % n
            shutil.copytree(pristine.dir, d)
            sc = Scenario.__new__(Scenario)
            sc.__dict__.update(pristine.__dict__)
            sc.dir = d
            p = subprocess.run([BIN, "-q", "-c", d + "/evshare.json", "run"],
                               env=dict(os.environ, CRASHPOINT_AT=str(n), **env),
                               capture_output=True)
            killed += p.returncode == -9
            before = sc.snapshot()
            sc.run("-q", "run", check=1)
            after = sc.snapshot()
            for k, v in before.items():
                if k in after:
                    eq(after[k], v, "object %s rewritten differently after crash at %d" % (k, n))
            for sub in (X, Y, Z):
                got = sc.output_lines(sub)
                if got != exp.lines[sub]:
                    raise AssertionError("crash at call %d of %d: %s got %d lines, expected %d"
                                         % (n, total, sub, len(got), len(exp.lines[sub])))
            check_quarantine(sc, exp)
            again = sc.run_json(check=1)
            eq(again["events"]["written"], 0, "third run delivers nothing new")
            shutil.rmtree(d)
        print("     crash points: %d of %d calls, %d runs killed" % (len(points), total, killed))
        assert killed >= 20, killed
    finally:
        pristine.cleanup()


@test
def test_state_is_pruned_to_the_lookback_window():
    """Records older than the horizon leave state.json, and the files they
    describe are not read again: state size is bounded by the window."""
    import time as _t
    sc = Scenario("prune")
    try:
        sc.direct(A)
        sc.extra["lookback"] = "60s"
        # inside the lookback for 6 s: the first run must begin by then
        old = sc.add_file(A, "old.ndjson", lines(event("old", A)), age_s=54)
        sc.additional(X, [A])
        sc.run_json(check=0)
        st = json.load(open(sc.path("state", "state.json")))
        eq([f["key"] for f in st["sources"][A]["files"]], ["old.ndjson"], "recorded")
        # the horizon moves with the clock: until the file is 61 s old
        _t.sleep(max(0.0, os.stat(old).st_mtime + 61 - _t.time()))
        sc.add_file(A, "new.ndjson", lines(event("new", A)), age_s=1)
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], 1, "only the new file is read")
        st = json.load(open(sc.path("state", "state.json")))
        eq([f["key"] for f in st["sources"][A]["files"]], ["new.ndjson"], "old record pruned")
        eq(sc.output_lines(X), [event("old", A), event("new", A)], "each delivered once")
        p = sc.run("-v", "run", check=0)
        assert b"old.ndjson" not in p.stdout, "pruned file listed as new"
    finally:
        sc.cleanup()


@test
def test_verbose_names_each_bad_line():
    sc = Scenario("verbose")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A), b"{oops", event("2", B)))
        sc.additional(X, [A])
        p = sc.run("-v", "run", check=0)
        err = p.stderr.decode()
        assert "f.ndjson' line 2: $: invalid JSON" in err, err
        assert "f.ndjson' line 3: $.org_id" in err, err
    finally:
        sc.cleanup()


@test
def test_below_horizon_forgotten_and_unselected_files_are_not_lost():
    """Two cases that need the horizon to pass a file:
    (a) a poisoned file, forgotten after it fell below the horizon, is read
        again; (b) a file delivered with --subscriber X only still reaches Y
        after the horizon moved past it."""
    import time as _t
    a = Scenario("forget-old")
    b = Scenario("unselected")
    try:
        a.direct(A)
        a.extra.update({"lookback": "60s", "max_attempts": 1})
        good = gz(lines(*[event("f%d" % i, A) for i in range(20)]))
        bad = good[:-8] + bytes([good[-8] ^ 0xff]) + good[-7:]     # CRC mismatch, same size
        path = a.add_file(A, "f.ndjson.gz", bad, age_s=50)
        a.additional(X, [A])
        s = a.run_json(check=1)
        eq(len(s["poisoned_files"]), 1, "poisoned in the run that poisons it")
        b.direct(A)
        b.extra["lookback"] = "60s"
        gpath = b.add_file(A, "g.ndjson", lines(event("g", A)), age_s=50)
        b.additional(X, [A])
        b.additional(Y, [A])
        b.run_json("--subscriber", X, check=0)
        eq(b.objects(Y), [], "Y not served yet")
        # the horizon moves with the clock: until both files are 61 s old
        _t.sleep(max(0.0, max(os.stat(path).st_mtime, os.stat(gpath).st_mtime) + 61 - _t.time()))
        # (a): below the horizon now; still reported, then fixed in place and forgotten
        s = a.run_json(check=0)
        eq(len(s["poisoned_files"]), 1, "still reported below the horizon")
        st = os.stat(path)
        with open(path, "r+b") as f:
            f.write(good)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        a.run("state", "forget", s["poisoned_files"][0]["url"], check=0)
        s = a.run_json(check=0)
        eq(s["files"]["processed"], 1, "forgotten file read again below the horizon")
        eq(len(a.output_lines(X)), 20, "its events delivered")
        # (b)
        s = b.run_json(check=0)
        eq(b.output_lines(Y), [event("g", A)], "Y got the file the horizon passed")
        eq(b.output_lines(X), [event("g", A)], "X got it once")
    finally:
        a.cleanup()
        b.cleanup()


@test
def test_unlistable_source_does_not_stop_the_others():
    sc = Scenario("badsource")
    try:
        sc.direct(A)
        sc.direct(B)
        sc.add_file(B, "b.ndjson", lines(event("b", B)))
        shutil.rmtree(sc.path(dict(sc.sources)[A]))
        sc.additional(X, [A, B])
        s = sc.run_json(check=1)
        eq(s["status"], "partial", "status")
        eq(len(s["failed_sources"]), 1, "failed sources")
        assert s["failed_sources"][0]["url"].endswith("/%s/events/" % A), s["failed_sources"]
        eq(sc.output_lines(X), [event("b", B)], "the other source was processed")
        sc.subs = []
        sc.additional(X, [A])
        sc.write_config()
        p = sc.run("run", check=69)
        assert b"cannot list" in p.stderr, p.stderr
    finally:
        sc.cleanup()


@test
def test_failed_upload_keeps_the_outputs_owed_and_next_run_finishes():
    sc = Scenario("putfail")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A), event("2", A)))
        sc.additional(X, [A])
        with open(sc.path("out"), "w") as f:
            f.write("a file where the destination directory should be")
        # its only subscriber failed: the exit status is that failure's
        s = sc.run_json(check=74)
        eq(s["status"], "partial", "status")
        eq(s["committed"], True, "the run is committed, its outputs for X owed")
        eq(s["subscribers"][0]["status"], "failed", "the subscriber failed")
        assert not os.path.exists(sc.path("state", "plan.json")), "no interrupted run"
        st = json.load(open(sc.path("state", "state.json")))
        eq([(p["run_id"], p["subscribers"]) for p in st["pending"]], [(s["run_id"], [X])],
           "the part owed")
        os.remove(sc.path("out"))
        s2 = sc.run_json(check=0)
        eq([p["run_id"] for p in s2["pending_parts"]], [s["run_id"]], "the part is finished")
        eq(s2["pending_parts"][0]["committed"], True, "and recorded")
        eq(s2["files"]["planned"], 0, "nothing new")
        eq(sc.output_lines(X), [event("1", A), event("2", A)], "delivered once")
        assert "pending" not in json.load(open(sc.path("state", "state.json")))
    finally:
        sc.cleanup()


@test
def test_old_quarantine_files_are_pruned():
    import time as _t
    sc = Scenario("qprune")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A), b"{bad"))
        sc.additional(X, [A])
        os.makedirs(sc.path("state", "quarantine"))
        old = sc.path("state", "quarantine", "20260101T000000Z-00000000.ndjson")
        with open(old, "w") as f:
            f.write("{}\n")
        t = _t.time() - 31 * 86400
        os.utime(old, (t, t))
        s = sc.run_json(check=0)
        assert not os.path.exists(old), "old quarantine file kept"
        assert os.path.exists(s["quarantine"]), "this run's quarantine removed"
    finally:
        sc.cleanup()


@test
def test_dry_run_and_list_write_nothing():
    sc = Scenario("dry")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(event("1", A)))
        sc.additional(X, [A])
        p = sc.run("run", "--dry-run", check=0)
        assert b"f.ndjson" in p.stdout, p.stdout
        assert not os.path.exists(sc.path("state")), "dry run created the state"
        assert not os.path.exists(sc.path("out")), "dry run wrote output"
        p = sc.run("list", "--json", check=0)
        rows = [json.loads(l) for l in p.stdout.splitlines()]
        eq([(r["source"], r["key"], r["subscribers"]) for r in rows], [(A, "f.ndjson", [X])],
           "list --json")
        s = sc.run_json("--dry-run", check=0)
        eq(s["dry_run"], True, "dry_run flag")
        assert not os.path.exists(sc.path("out"))
    finally:
        sc.cleanup()


@test
def test_since_until_source_subscriber_and_replay():
    sc = Scenario("select")
    try:
        sc.direct(A)
        sc.direct(B)
        old = sc.add_file(A, "old.ndjson", lines(event("old", A)), age_s=7200)
        sc.add_file(A, "new.ndjson", lines(event("new", A)), age_s=60)
        sc.add_file(B, "b.ndjson", lines(event("b", B)), age_s=60)
        sc.additional(X, [A, B])
        sc.additional(Y, [A])
        import time as _t
        since = _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime(_t.time() - 3600))
        s = sc.run_json("--since", since, "--source", A, "--subscriber", X)
        eq(s["files"]["processed"], 1, "one file in the window for A and X")
        eq(sc.output_lines(X), [event("new", A)], "X got A's new file only")
        eq(sc.objects(Y), [], "Y not selected")
        s = sc.run_json()
        eq(sc.output_lines(Y), [event("old", A), event("new", A)], "Y catches up")
        eq(sorted(sc.output_lines(X)), sorted([event("new", A), event("old", A), event("b", B)]),
           "X catches up without repeats")
        s = sc.run_json()
        eq(s["files"]["planned"], 0, "idle")
        with open(sc.path("state", "state.json"), "rb") as f:
            st = f.read()
        s = sc.run_json("--replay", "--subscriber", Y)
        eq(s["replay"], True, "replay flag")
        eq(s["files"]["processed"], 2, "replay reads processed files")
        eq(len(sc.output_lines(Y)), 4, "Y got its files again, in new objects")
        with open(sc.path("state", "state.json"), "rb") as f:
            eq(f.read(), st, "replay leaves the state alone")
        assert os.path.getmtime(old) > 0
    finally:
        sc.cleanup()


@test
def test_check_reports_json_paths():
    sc = Scenario("check")
    try:
        sc.direct(A)
        sc.additional(X, [A, "TN-nope"], key_format="{subscriber}/x.gz", bogus=1)
        sc.write_config()
        p = sc.run("check", check=78)
        err = p.stderr.decode()
        for want in ("$.additional_subscribers[0].links[1]", "unknown org_id 'TN-nope'",
                     "$.additional_subscribers[0].key_format",
                     "$.additional_subscribers[0].bogus: unknown key"):
            assert want in err, "missing %r in:\n%s" % (want, err)
        with open(sc.path("evshare.json"), "w") as f:
            f.write('{"state_dir": "s",\n "direct_subscribers": [}')
        p = sc.run("check", check=78)
        assert b"line 2" in p.stderr, p.stderr
        os.remove(sc.path("evshare.json"))
        p = subprocess.run([BIN, "-c", sc.path("evshare.json"), "check"], capture_output=True)
        eq(p.returncode, 78, "missing config")
        sc.subs = []
        sc.additional(X, [A])
        sc.write_config()
        sc.run("check", check=0)
    finally:
        sc.cleanup()


@test
def test_filter_command():
    pat = '{"domain":["onboarding"],"data":{"n":[2, 3.0]}}'
    inp = lines(b'{"domain":"onboarding","data":{"n":1}}',
                b'{"domain":"onboarding","data":{"n":2}}',
                b'not json',
                b'{"domain":"payments","data":{"n":2}}',
                b'{"domain":"onboarding","data":{"n":3e0}}')
    p = subprocess.run([BIN, "filter", "--filter", pat], input=inp, capture_output=True)
    eq(p.returncode, 0, "exit status")
    eq(p.stdout, lines(b'{"domain":"onboarding","data":{"n":2}}',
                       b'{"domain":"onboarding","data":{"n":3e0}}'), "matching lines")
    assert b"line 3" in p.stderr, p.stderr
    p = subprocess.run([BIN, "filter", "--filter", '{"domain":"x"}'], input=b"",
                       capture_output=True)
    eq(p.returncode, 65, "invalid pattern")
    assert b"$.domain" in p.stderr, p.stderr
    # @FILE reads the pattern from a file (as a config's "filter" may)
    with tempfile.TemporaryDirectory() as d:
        f = os.path.join(d, "pattern.json")
        with open(f, "w") as fh:
            fh.write(pat + "\n")
        p = subprocess.run([BIN, "filter", "--filter", "@" + f], input=inp, capture_output=True)
        eq(p.returncode, 0, "exit status with @FILE")
        eq(p.stdout, lines(b'{"domain":"onboarding","data":{"n":2}}',
                           b'{"domain":"onboarding","data":{"n":3e0}}'), "matching lines, @FILE")
        p = subprocess.run([BIN, "filter", "--filter", "@" + f + ".missing"], input=b"",
                           capture_output=True)
        eq(p.returncode, 64, "an unreadable pattern file is a usage error (evshare(1))")
        assert (f + ".missing").encode() in p.stderr, p.stderr


@test
def test_filter_command_agrees_with_run():
    """Each operator through `evshare filter` and through a subscriber's
    filter in `run`: the same lines must come out."""
    patterns = [
        {"domain": ["onboarding"]},
        {"data": {"amount": [{"numeric": [">", 10, "<=", 500]}]}},
        {"event_type": [{"prefix": "succ"}]},
        {"event_type": [{"suffix": {"equals-ignore-case": "LED"}}]},
        {"data": {"tag": [{"anything-but": ["a", "b"]}]}},
        {"data": {"note": [{"exists": False}]}},
        {"data": {"ip": [{"cidr": "10.1.0.0/16"}]}},
        {"data": {"city": [{"equals-ignore-case": "\u00c9vora"}]}},
        {"data": {"path": [{"wildcard": "/in/*/x*.gz"}]}},
        {"$or": [{"domain": ["payments"]}, {"data": {"amount": [{"numeric": ["=", 7]}]}}]},
        {"data": {"items": {"qty": [{"numeric": [">=", 3]}], "sku": ["k1"]}}},
    ]
    rnd = random.Random(5)
    evs = []
    for i in range(300):
        d, t = rnd.choice(DOMAINS)
        data = {"amount": rnd.choice([7, 7.0, 10, 11, 250, 500, 501, "300"]),
                "tag": rnd.choice(["a", "b", "c", None]),
                "ip": rnd.choice(["10.1.2.3", "10.2.0.1", "::1", 5]),
                "city": rnd.choice(["\u00e9vora", "EVORA", "\u00c9VORA", "lisboa"]),
                "path": rnd.choice(["/in/a/x1.gz", "/in/a/b/y.gz", "/out/x.gz"]),
                "items": [{"sku": rnd.choice(["k1", "k2"]), "qty": rnd.randrange(5)}
                          for _ in range(rnd.randrange(3))]}
        if rnd.random() < 0.5:
            data["note"] = "n"
        evs.append(event("f%03d" % i, A, d, t, data=data))
    sc = Scenario("agree")
    try:
        sc.direct(A)
        sc.add_file(A, "f.ndjson", lines(*evs))
        for k, pat in enumerate(patterns):
            sc.additional("TN-p%02d" % k, [A], filter=pat)
        sc.run_json(check=0)
        for k, pat in enumerate(patterns):
            p = subprocess.run([BIN, "filter", "--filter", json.dumps(pat)], input=lines(*evs),
                               capture_output=True)
            eq(p.returncode, 0, "filter exit for %s" % pat)
            want = p.stdout.splitlines()
            assert 0 < len(want) < len(evs), "pattern %s should select some: %d" % (pat, len(want))
            eq(sc.output_lines("TN-p%02d" % k), want, "run vs filter for %s" % pat)
    finally:
        sc.cleanup()


@test
def test_cli_basics():
    for args, code in ((["--version"], 0), (["--help"], 0), (["bogus"], 64), ([], 64),
                       (["run", "--nope"], 64)):
        p = subprocess.run([BIN, "-c", "/nonexistent/evshare.json"] + args, capture_output=True)
        eq(p.returncode, code, "evshare %s" % args)
    p = subprocess.run([BIN, "--version"], capture_output=True)
    assert p.stdout.startswith(b"evshare "), p.stdout
    # every command's help: on stdout, status 0, and it ends the parsing
    for cmd in (["run"], ["list"], ["check"], ["filter"], ["state"], ["state", "show"],
                ["state", "forget"]):
        for extra in ([], ["extra"]):
            p = subprocess.run([BIN, "-c", "/nonexistent/evshare.json"] + cmd + ["--help"] + extra,
                               capture_output=True)
            eq(p.returncode, 0, "evshare %s --help %s (stderr %r)" % (cmd, extra, p.stderr))
            assert p.stdout.startswith(b"usage: evshare"), (cmd, p.stdout)
            eq(p.stderr, b"", "evshare %s --help: nothing on stderr" % cmd)


if __name__ == "__main__":
    main()
