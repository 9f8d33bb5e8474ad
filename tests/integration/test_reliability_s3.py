#!/usr/bin/env python3
"""Reliability on s3://: whole scenarios under injected faults, and SIGKILL
at random moments of runs with multipart uploads.

Every fault run must either end with exactly the expected output, or fail
with a clear message and commit nothing; a clean run afterwards must then
complete it, each expected line arriving exactly once.  Every crash must be
followed by a rerun that delivers each expected line exactly once, rewrites
the objects the killed run had put byte for byte, and leaves no multipart
upload open and no stray object under the destination prefix.

Runs with the pyenv Python (boto3, moto); it re-executes itself under it.
Needs EVSHARE_BIN (default ./evshare).  Ends with "N passed, N failed".
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import s3harness  # noqa: E402
s3harness.reexec_with_boto3()

import harness  # noqa: E402
_n = len(harness.TESTS)
from test_core import build_main_scenario, sub_tuples, check_quarantine, X, Y, Z, A  # noqa: E402
del harness.TESTS[_n:]
from harness import Scenario, gz, lines, eq, BIN  # noqa: E402
import reference  # noqa: E402
from s3harness import (S3Scenario, peer, new_bucket, open_uploads, read_state, test, main)  # noqa: E402

for _v in list(os.environ):
    if _v.startswith("AWS_"):
        del os.environ[_v]
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/evshare-test/credentials"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/evshare-test/config"

REPORT = {"fault_runs": 0, "fault_runs_failed_cleanly": 0, "fault_runs_completed": 0,
          "crash_points": 0, "killed": 0}


def big_events(rnd, org, n, prefix, width=2000):
    import base64
    from harness import event
    return [event("%s-%06d" % (prefix, i), org,
                  data={"blob": base64.b64encode(rnd.randbytes(width * 3 // 4)).decode()})
            for i in range(n)]


def all_lines_once(sc, exp, subs, what=""):
    import json as _json
    for s in subs:
        got = sc.output_lines(s)
        if got != exp.lines[s]:
            dup = len(got) - len(set(got))
            def ids(ls):
                return [(_json.loads(l)["event_id"], _json.loads(l)["org_id"]) for l in ls]
            extra = [i for i in ids(got) if i not in ids(exp.lines[s])][:5]
            missing = [i for i in ids(exp.lines[s]) if i not in ids(got)][:5]
            raise AssertionError("%s%s: %d lines, expected %d (%d repeated); extra %s; missing %s"
                                 % (what, s, len(got), len(exp.lines[s]), dup, extra, missing))


def no_open_uploads(sc):
    eq(open_uploads(sc.peer, sc.dst_bucket), [], "open multipart uploads")


# --------------------------------------------------------------------------
# the fault matrix
# --------------------------------------------------------------------------

def all_requests(action, times=-1):
    return [{"method": m, "times": times, "action": action} for m in ("GET", "PUT", "POST",
                                                                      "DELETE", "HEAD")]


# (name, rules, seconds after which the rules are cleared by the test or None)
FAULTS = [
    ("get-slowdown-burst", [{"method": "GET", "path": "/events/", "times": 3, "action": "slowdown"}], None),
    ("list-slowdown-burst", [{"method": "GET", "path": "list-type=2", "times": 3, "action": "slowdown"}], None),
    ("put-slowdown-burst", [{"method": "PUT", "path": "/out/", "times": 3, "action": "slowdown"}], None),
    ("get-500s", [{"method": "GET", "path": "/events/", "times": 4, "action": {"status": 500}}], None),
    ("put-502-504", [{"method": "PUT", "times": 2, "action": {"status": 502}},
                     {"method": "PUT", "times": 2, "action": {"status": 504}}], None),
    ("request-timeouts", [{"method": "GET", "times": 2, "action": "request_timeout"},
                          {"method": "PUT", "times": 2, "action": "request_timeout"}], None),
    ("get-reset-mid-body", [{"method": "GET", "path": "/events/", "times": 3,
                             "action": "reset_response_after:2000"}], None),
    ("get-truncated", [{"method": "GET", "path": "/events/", "times": 3,
                        "action": "truncate_response_after:1500"}], None),
    ("get-stalled", [{"method": "GET", "path": "/events/", "times": 1,
                      "action": "stall_response_after:1000"}], None),
    ("put-reset-mid-upload", [{"method": "PUT", "path": "/out/", "times": 2,
                               "action": "reset_request_after:300"}], None),
    ("put-reply-lost", [{"method": "PUT", "path": "/out/", "times": 2,
                         "action": "reset_response_after:0"}], None),
    ("slow-everything", all_requests("delay_ms:150", times=-1), None),
    ("list-fails-for-good", [{"method": "GET", "path": "list-type=2", "times": -1,
                              "action": {"status": 500}}], None),
    ("get-fails-for-good", [{"method": "GET", "path": "/events/", "times": -1,
                             "action": {"status": 503}}], None),
    ("put-fails-for-good", [{"method": "PUT", "path": "/out/", "times": -1,
                             "action": {"status": 500}}], None),
    ("peer-away-briefly", all_requests("reset_response_after:0"), 1.0),
    ("peer-away-long", all_requests("reset_response_after:0"), 25.0),
]


def fault_run(name, rules, clear_after, seed):
    """One fault run on the core scenario, then a clean run; checks both."""
    p = peer()
    rnd = random.Random(seed)
    base = build_main_scenario(rnd, truncated=True)
    sc = S3Scenario(base, p)
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc), max_line_bytes=4096)
        p.set_faults(rules)
        timer = None
        if clear_after is not None:
            timer = threading.Timer(clear_after, p.clear_faults)
            timer.start()
        t0 = time.time()
        pr = sc.run("run", "--json", check=None, timeout=300)
        elapsed = time.time() - t0
        if timer:
            timer.cancel()
        p.clear_faults()
        REPORT["fault_runs"] += 1
        err = pr.stderr.decode(errors="replace")
        state_after_fault = read_state(sc)
        inputs = sc.expected_inputs()
        if pr.returncode in (0, 1):
            # finished: it committed what it read; the next run reads the rest
            s = json.loads(pr.stdout)
            eq(s["committed"], True, "%s: finished runs commit" % name)
            REPORT["fault_runs_completed"] += 1
            later = set()
            for f in s["failed_sources"]:
                later |= {(org, k) for org, fs in inputs if f["url"].endswith("/%s/events/" % org)
                          for k, _ in fs}
            for f in s["failed_files"]:
                later |= {(org, k) for org, fs in inputs for k, _ in fs
                          if f["url"].endswith("/%s/events/%s" % (org, k))}
            if later:
                # dedup is per run: model the two runs apart
                first = [(org, [(k, d) for k, d in fs if (org, k) not in later])
                         for org, fs in inputs]
                second = [(org, [(k, d) for k, d in fs if (org, k) in later])
                          for org, fs in inputs]
                e1 = reference.expected(first, sub_tuples(sc), max_line_bytes=4096)
                e2 = reference.expected(second, sub_tuples(sc), max_line_bytes=4096)
                for sub in exp.lines:
                    exp.lines[sub] = e1.lines[sub] + e2.lines[sub]
        else:
            # failed: a clear message, nothing committed
            assert pr.returncode in (69, 74, 75, 77), "%s: exit %d\n%s" % (name, pr.returncode, err)
            assert "error:" in err, "%s: no error message" % name
            eq(state_after_fault, None, "%s: a failed run commits nothing" % name)
            REPORT["fault_runs_failed_cleanly"] += 1
        # a clean run completes whatever is left; the truncated file keeps failing
        pr2 = sc.run("run", "--json", check=None, timeout=300)
        eq(pr2.returncode, 1, "%s: clean run after the fault (stderr %s)" % (
            name, pr2.stderr.decode(errors="replace")[-800:]))
        all_lines_once(sc, exp, [X, Y, Z], "%s: " % name)
        check_quarantine_s3(sc, exp)
        no_open_uploads(sc)
        return pr.returncode, elapsed
    finally:
        p.clear_faults()
        sc.cleanup()


def check_quarantine_s3(sc, exp):
    # the quarantine is local (state_dir) for s3:// runs too; only the last
    # complete run's file counts, and check_quarantine reads them all: keep
    # the newest
    qd = sc.path("state", "quarantine")
    files = sorted(os.listdir(qd)) if os.path.isdir(qd) else []
    for old in files[:-1]:
        os.remove(os.path.join(qd, old))
    # its lines name the s3 URL: compare kinds, line numbers and bytes
    got = []
    for r in sc.quarantine():
        from harness import quarantined_bytes
        got.append((r["source"], r["line"], r["kind"], quarantined_bytes(r)))
    want = [(org, line, kind, raw) for org, _k, line, kind, raw in exp.quarantine]
    eq(sorted(got), sorted(want), "quarantine")


@test
def test_fault_matrix_core_scenario():
    outcomes = []
    for i, (name, rules, clear_after) in enumerate(FAULTS):
        rc, elapsed = fault_run(name, rules, clear_after, 1000 + i)
        outcomes.append((name, rc, elapsed))
    for name, rc, elapsed in outcomes:
        print("     %-22s exit %-3d %.1fs" % (name, rc, elapsed))


@test
def test_fault_mixtures_random():
    """Random mixtures of three faults each, seeded; printed for replay."""
    seed = int(os.environ.get("FAULT_SEED", "20261127"))
    rnd = random.Random(seed)
    pool = [f for f in FAULTS if f[2] is None and "for-good" not in f[0]]
    for k in range(6):
        picks = rnd.sample(pool, 3)
        rules = [r for _, rs, _ in picks for r in rs]
        name = "+".join(n for n, _, _ in picks)
        rc, elapsed = fault_run(name, rules, None, seed + k)
        print("     mixture %d: %s: exit %d, %.1fs" % (k, name, rc, elapsed))


# --------------------------------------------------------------------------
# crashes
# --------------------------------------------------------------------------

@test
def test_crash_at_random_moments_with_multipart():
    """SIGKILL at 32 random moments of a run whose outputs go up in several
    parts; each rerun must complete it exactly once, with no upload left
    open and objects already put rewritten byte for byte."""
    p = peer()
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "77")))
    base = Scenario("s3crash")
    base.direct(A)
    evs = [big_events(rnd, A, 2200, "c%d" % f) for f in range(3)]
    for f, e in enumerate(evs):
        base.add_file(A, "f%d.ndjson.gz" % f, gz(lines(*e)))
    base.additional(X, [A], max_object_bytes=6 << 20)
    picked = ["c%d-%06d" % (f, i) for f in range(3) for i in range(0, 2200, 7)]
    base.additional(Y, [A], filter={"event_id": picked})
    sc = S3Scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        assert len(exp.lines[Y]) > 0
        # slow replies to writes, so that kills land in every phase (listing,
        # reading, part uploads, completion, commit), not mostly in reading
        slow = [{"method": m, "times": -1, "action": "delay_ms:120"} for m in ("PUT", "POST")]
        p.set_faults(slow)
        t0 = time.time()
        sc.run("-q", "run", check=0, timeout=300)
        full = time.time() - t0
        p.clear_faults()
        parts = [r for r in p.requests() if "partNumber=" in r.get("target", "")]
        points = sorted(rnd.uniform(0.03, 0.97) * full for _ in range(32))
        killed = 0
        for n, at in enumerate(points):
            sc.dst_bucket = new_bucket(p, "crash")
            shutil.rmtree(sc.path("state"), ignore_errors=True)
            sc.write_config()
            e = dict(os.environ, **sc.env)
            p.set_faults(slow)
            proc = subprocess.Popen([BIN, "-q", "-c", sc.path("evshare.json"), "run"], env=e,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(at)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
            p.clear_faults()
            before = dict(sc.objects(None))
            pr = sc.run("-q", "run", check=None, timeout=300)
            assert pr.returncode == 0, "rerun after a kill at %.2fs: exit %d: %s" % (
                at, pr.returncode, pr.stderr.decode(errors="replace")[-800:])
            after = dict(sc.objects(None))
            for k, v in before.items():
                assert k in after and after[k] == v, \
                    "object %s changed after the kill at %.2fs" % (k, at)
            all_lines_once(sc, exp, [X, Y])
            no_open_uploads(sc)
            REPORT["crash_points"] += 1
        REPORT["killed"] += killed
        print("     %d crash points over a %.1fs run with %d part uploads; %d runs killed"
              % (len(points), full, len(parts), killed))
        assert killed >= 30, killed
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_credentials_file_readable_by_others_draws_a_warning():
    p = peer()
    base = Scenario("credmode")
    base.direct(A)
    base.add_file(A, "f.ndjson", lines(event_line("1")))
    base.additional(X, [A])
    sc = S3Scenario(base, p)
    try:
        sc.upload()
        key = s3harness.KEY
        path = sc.path("credentials")
        with open(path, "w") as f:
            f.write("[bench]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % key)
        env = {"AWS_SHARED_CREDENTIALS_FILE": path, "AWS_PROFILE": "bench"}
        sc.env.pop("AWS_ACCESS_KEY_ID", None)
        sc.env.pop("AWS_SECRET_ACCESS_KEY", None)
        sc.env.pop("AWS_SESSION_TOKEN", None)
        os.chmod(path, 0o644)
        pr = sc.run("list", env=env, check=0)
        assert b"others may read it" in pr.stderr and b"chmod 600" in pr.stderr, pr.stderr
        assert key[1].encode() not in pr.stderr, "the secret is in the warning"
        os.chmod(path, 0o600)
        pr = sc.run("list", env=env, check=0)
        assert b"others may read it" not in pr.stderr, pr.stderr
    finally:
        sc.cleanup()


def event_line(eid):
    from harness import event
    return event(eid, A)


@test
def test_zz_report():
    print("     fault runs: %(fault_runs)d (%(fault_runs_completed)d finished correctly, "
          "%(fault_runs_failed_cleanly)d failed cleanly and were completed by the next run); "
          "crash points: %(crash_points)d, runs killed: %(killed)d" % REPORT)


if __name__ == "__main__":
    main()
