#!/usr/bin/env python3
"""Reliability on s3://: whole scenarios under injected faults, and SIGKILL
at random moments of runs with multipart uploads.

Every fault run must either end with exactly the expected output, or fail
with a clear message and commit nothing; a clean run afterwards must then
complete it, each expected line arriving exactly once.  The same holds when
the peer goes away in the middle of a run (connections refused, reset, or
503) and comes back; a run that rides the outage out must have met it.
Every crash must be followed by a rerun that delivers each expected line
exactly once, rewrites the objects the killed run had put byte for byte, and
leaves no multipart upload open and no object in the bucket but the run's
own; enough kills must land while a multipart upload is open.

Runs with the pyenv Python (boto3, moto); it re-executes itself under it.
Needs EVSHARE_BIN (default ./evshare).  Ends with "N passed, N failed".
"""
import gzip
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
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
from remote import big_events  # noqa: E402
from s3harness import (S3Scenario, peer, new_bucket, open_uploads, read_state, quiesce, test, main)  # noqa: E402

for _v in list(os.environ):
    if _v.startswith("AWS_"):
        del os.environ[_v]
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/evshare-test/credentials"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/evshare-test/config"

REPORT = {"fault_runs": 0, "fault_runs_failed_cleanly": 0, "fault_runs_completed": 0,
          "outage_runs": 0, "outage_runs_completed": 0, "outage_runs_failed_cleanly": 0,
          "crash_points": 0, "killed": 0, "killed_in_multipart": 0, "killed_after_parts": 0,
          "part_uploads": 0}


def all_lines_once(sc, exp, subs, what="", objs=None):
    """objs: the destination's objects as sc.objects(None) lists them, when
    the caller has them already (else they are fetched)."""
    import json as _json
    for s in subs:
        got = sc.output_lines(s) if objs is None else lines_of(objs, s)
        if got != exp.lines[s]:
            dup = len(got) - len(set(got))
            def ids(ls):
                return [(_json.loads(l)["event_id"], _json.loads(l)["org_id"]) for l in ls]
            extra = [i for i in ids(got) if i not in ids(exp.lines[s])][:5]
            missing = [i for i in ids(exp.lines[s]) if i not in ids(got)][:5]
            raise AssertionError("%s%s: %d lines, expected %d (%d repeated); extra %s; missing %s"
                                 % (what, s, len(got), len(exp.lines[s]), dup, extra, missing))


def lines_of(objs, sub):
    """sc.output_lines(sub), from objects already fetched by sc.objects(None)."""
    out = []
    for rel, data in objs:
        if ("/" + sub + "/") not in ("/" + rel) and not rel.startswith(sub):
            continue
        text = gzip.decompress(data)
        assert text.endswith(b"\n"), "object %s does not end with a newline" % rel
        out.extend(text.split(b"\n")[:-1])
    return out


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
                         "action": "drop_response"}], None),
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
        completed = judge_fault_run(name, sc, exp, pr)
        REPORT["fault_runs_completed" if completed else "fault_runs_failed_cleanly"] += 1
        clean_run_completes(name, sc, exp)
        return pr.returncode, elapsed
    finally:
        p.clear_faults()
        sc.cleanup()


def judge_fault_run(name, sc, exp, pr, max_line_bytes=4096):
    """The run under faults (pr) on the core scenario either finished and
    committed (exit 0 or 1; exp is then adjusted for the files it gave up,
    which the next run reads; what a failed destination is owed is
    delivered by the next run under this run's keys), or failed with a
    clear message and committed nothing, or committed with every
    subscriber's outputs owed (all destinations failed: the exit status is
    theirs).  Returns whether it finished."""
    err = pr.stderr.decode(errors="replace")
    state_after_fault = read_state(sc)
    inputs = sc.expected_inputs()
    if pr.returncode not in (0, 1) and state_after_fault is not None:
        assert pr.returncode in (69, 74, 75, 77), "%s: exit %d\n%s" % (name, pr.returncode, err)
        assert "error:" in err, "%s: no error message" % name
        owed = [x for part in json.loads(state_after_fault).get("pending", [])
                for x in part["subscribers"]]
        assert owed, "%s: committed a failed run with nothing owed" % name
    if pr.returncode in (0, 1) or state_after_fault is not None:
        # finished: it committed what it read; the next run reads the rest
        s = json.loads(pr.stdout)
        eq(s["committed"], True, "%s: finished runs commit" % name)
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
            e1 = reference.expected(first, sub_tuples(sc), max_line_bytes=max_line_bytes)
            e2 = reference.expected(second, sub_tuples(sc), max_line_bytes=max_line_bytes)
            for sub in exp.lines:
                exp.lines[sub] = e1.lines[sub] + e2.lines[sub]
        return True
    # failed: a clear message, nothing committed
    assert pr.returncode in (69, 74, 75, 77), "%s: exit %d\n%s" % (name, pr.returncode, err)
    assert "error:" in err, "%s: no error message" % name
    eq(state_after_fault, None, "%s: a failed run commits nothing" % name)
    return False


def clean_run_completes(name, sc, exp, core=True):
    """A clean run completes whatever is left; in the core scenario the
    truncated file keeps failing (exit 1)."""
    pr2 = sc.run("run", "--json", check=None, timeout=300)
    eq(pr2.returncode, 1 if core else 0, "%s: clean run after the fault (stderr %s)" % (
        name, pr2.stderr.decode(errors="replace")[-800:]))
    all_lines_once(sc, exp, [X, Y, Z] if core else [X, Y], "%s: " % name)
    if core:
        check_quarantine_s3(sc, exp)
    no_open_uploads(sc)


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
# the peer goes away in the middle of a run, and comes back
# --------------------------------------------------------------------------

class Front:
    """A TCP front for the peer that the test can take away: down() stops
    listening (a connect is refused, ECONNREFUSED, as from a host whose
    server has stopped) and resets every open connection; up() listens again
    on the same port.  evshare talks to the front, the test to the peer."""

    def __init__(self, p):
        self.target = ("127.0.0.1", p.port)
        self.lock = threading.Lock()
        self.listener = None
        self.pairs = []
        self.port = 0
        self.accepted = 0       # connections forwarded since the last up()
        self.cut = 0            # open connections reset by down()
        self.up()
        self.endpoint = "http://127.0.0.1:%d" % self.port

    def up(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self.port = s.getsockname()[1]
        with self.lock:
            self.listener = s
            self.accepted = 0
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self):
        with self.lock:
            s, self.listener = self.listener, None
            pairs, self.pairs = self.pairs, []
        if s is None:
            return
        try:
            s.shutdown(socket.SHUT_RDWR)    # wakes accept(); the backlog is reset
        except OSError:
            pass
        s.close()
        for pair in pairs:
            if not pair["done"]:
                self.cut += 1
            pair["cut"] = True
        for pair in pairs:
            for t in pair["threads"]:
                t.join(2)

    def stop(self):
        self.down()

    def _accept(self, s):
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target)
            except OSError:
                c.close()
                continue
            pair = {"socks": (c, u), "cut": False, "done": False, "threads": []}
            with self.lock:
                live = self.listener is s
                if live:
                    self.pairs.append(pair)
                    self.accepted += 1
            if not live:
                pair["cut"] = True
                self._close(pair)
                continue
            for a, b in ((c, u), (u, c)):
                t = threading.Thread(target=self._pipe, args=(pair, a, b), daemon=True)
                pair["threads"].append(t)
                t.start()

    def _pipe(self, pair, a, b):
        try:
            while not pair["cut"]:
                if not select.select([a], [], [], 0.02)[0]:
                    continue
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except (OSError, ValueError):
            pass
        finally:
            pair["done"] = True
            self._close(pair)

    @staticmethod
    def _close(pair):
        c, u = pair["socks"]
        if pair["cut"]:
            try:    # RST, as from a host that has gone
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        for x in (c, u):
            try:
                x.close()
            except OSError:
                pass


class Outage(threading.Thread):
    """Watches the peer's request records; once when(records) holds (the run
    has made progress), takes the peer away with down(), waits `seconds`,
    and brings it back with up()."""

    def __init__(self, p, proc, when, seconds, down, up):
        threading.Thread.__init__(self, daemon=True)
        self.p, self.proc, self.when, self.seconds = p, proc, when, seconds
        self.down, self.up = down, up
        self.cancel = threading.Event()
        self.began = self.ended = None          # time.time() of down() and up()
        self.run_alive_at_down = None

    def run(self):
        while not self.cancel.is_set():
            recs = self.p.requests()
            if self.when(recs):
                break
            time.sleep(0.005)
        else:
            return
        self.run_alive_at_down = self.proc.poll() is None
        self.down()
        self.began = time.time()
        time.sleep(self.seconds)
        self.up()
        self.ended = time.time()


def source_gets(recs):
    return [r for r in recs if r["method"] == "GET" and "/events/" in r["target"]
            and "list-type=" not in r["target"] and r["status"] == 200]


def output_puts(recs):
    return [r for r in recs if r["method"] == "PUT" and "/out/" in r["target"]
            and r["status"] == 200]


def part_puts(recs):
    return [r for r in recs if r["method"] == "PUT" and "partNumber=" in r["target"]
            and r["status"] == 200]


def metric(path, name):
    with open(path) as f:
        for line in f:
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.split()[-1])
    raise AssertionError("%s: no %s" % (path, name))


# (name, scenario, how the peer is away, when it goes (over the peer's
#  request records), seconds away, whether the run must notice it: fail, or
#  give files up).
# "core" is the fault matrix's scenario; "multipart" has one source of two
# 3.4 MB files and an output of 5 MiB + 1.3 MB parts.
# "refused": connects are refused and open connections reset (Front);
# otherwise a fault action for every request, at the peer: each connection
# reset as its request arrives (nothing reaches moto), or 503 to everything.
# Brief outages (0.3 s) are usually ridden out by retries (5 attempts, full
# jitter on 100, 200, 400, 800 ms: 1.5 s at most); long ones (2 s) outlast
# the retries of a request that fails as the peer goes.
MID_RUN = [
    ("refused-mid-read-brief", "core", "refused",
     lambda rs: len(source_gets(rs)) >= 3, 0.3, False),
    ("refused-mid-write-long", "core", "refused",
     lambda rs: len(output_puts(rs)) >= 1, 2.0, True),
    ("resets-mid-write-brief", "core", "reset_request_after:0",
     lambda rs: len(output_puts(rs)) >= 1, 0.3, False),
    ("503s-mid-read-long", "core", {"status": 503},
     lambda rs: len(source_gets(rs)) >= 3, 2.0, True),
    ("refused-mid-multipart-long", "multipart", "refused",
     lambda rs: len(part_puts(rs)) >= 1, 2.0, True),
]


def outage_run(name, scenario, how, when, seconds, must_notice, seed):
    """A run (every request slowed, so that it lasts about 2 s) during which
    the peer goes away once the run has made progress, and comes back
    `seconds` later; then a clean run."""
    p = peer()
    rnd = random.Random(seed)
    core = scenario == "core"
    if core:
        sc = S3Scenario(build_main_scenario(rnd, truncated=True), p)
    else:
        sc = build_multipart_scenario(p, rnd, nfiles=2)
    mlb = 4096 if core else 1048576
    front = None
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc), max_line_bytes=mlb)
        front = Front(p)
        sc.env["AWS_ENDPOINT_URL"] = sc.env["AWS_ENDPOINT_URL_S3"] = front.endpoint
        slow = all_requests("delay_ms:50")
        if how == "refused":
            down, up = front.down, front.up
        else:
            def down():
                p.set_faults(all_requests(how) + slow)

            def up():
                p.set_faults(slow)
        p.set_faults(slow)
        p.reset_stats()
        sc.write_config()
        metrics = sc.path("metrics.prom")
        args = [BIN, "-c", sc.path("evshare.json"), "run", "--json", "--metrics-file", metrics]
        e = dict(os.environ, **sc.env)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        t0 = time.time()
        proc = subprocess.Popen(args, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        outage = Outage(p, proc, when, seconds, down, up)
        outage.start()
        try:
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        ended = time.time()
        elapsed = ended - t0
        outage.cancel.set()
        outage.join()           # the peer is back before anything else
        p.clear_faults()
        quiesce(p)
        recs = p.requests()
        pr = subprocess.CompletedProcess(args, proc.returncode, out, err)
        REPORT["outage_runs"] += 1
        # the outage overlapped the run: it began while the run was going,
        # and the run met it (retried, or gave up)
        assert outage.began is not None, "%s: the run ended (exit %d, %.1fs) before the outage" % (
            name, pr.returncode, elapsed)
        assert outage.run_alive_at_down and outage.began < ended, \
            "%s: the run had ended when the peer went away" % name
        retries = metric(metrics, "evshare_last_run_http_retries")
        if how == "refused":
            met = "%d connections reset, %d retries" % (front.cut, retries)
        else:
            act = how if isinstance(how, str) else "status"
            hit = [r for r in recs if r.get("fault") == act.split(":")[0]]
            assert hit, "%s: no request met the outage" % name
            met = "%d requests failed, %d retries" % (len(hit), retries)
        left = open_uploads(p, sc.dst_bucket)
        if left:
            met += ", %d uploads left open" % len(left)
        completed = judge_fault_run(name, sc, exp, pr, mlb)
        outcome = "failed"
        if completed:
            s = json.loads(pr.stdout)
            gave_up = bool(s["failed_sources"]) or any(
                not f["url"].endswith("/b-truncated.ndjson.gz") for f in s["failed_files"]) \
                or any(x["status"] == "failed" for x in s["subscribers"])
            outcome = "gave files up" if gave_up else "rode it out"
            assert retries >= 1, "%s: the run finished without meeting the outage (%s)" % (name, met)
            if not gave_up:
                # it went on once the peer was back
                assert outage.ended < ended, \
                    "%s: the run finished (%.1fs) while the peer was away" % (name, elapsed)
                if how == "refused":
                    assert front.accepted > 0, "%s: no connection after the outage" % name
            if must_notice:
                assert gave_up, "%s: a %.0fs outage went unnoticed (%s)" % (name, seconds, met)
        REPORT["outage_runs_completed" if completed else "outage_runs_failed_cleanly"] += 1
        clean_run_completes(name, sc, exp, core)
        return pr.returncode, elapsed, outage.began - t0, outcome, met
    finally:
        p.clear_faults()
        if front:
            front.stop()
        sc.cleanup()


@test
def test_peer_lost_mid_run_and_back():
    """The peer goes away once the run is under way (after its first source
    GETs, its first PUT, or its first part) and comes back: a run that fails
    says so and commits nothing; one that rides it out delivers exactly; the
    next run completes either, every line exactly once, no upload left open."""
    for i, (name, scenario, how, when, seconds, must_notice) in enumerate(MID_RUN):
        rc, elapsed, began, outcome, met = outage_run(name, scenario, how, when, seconds,
                                                      must_notice, 3000 + i)
        print("     %-28s exit %-3d %.1fs, away %.1fs from %.2fs: %s (%s)"
              % (name, rc, elapsed, seconds, began, outcome, met))


# --------------------------------------------------------------------------
# crashes
# --------------------------------------------------------------------------

def build_multipart_scenario(p, rnd, nfiles=4):
    """One source of `nfiles` gzip files of 2200 events of 2 KB (3.4 MB each,
    13.4 MB for 4): X gets every line, in objects of about 6.5 MB (5 MiB and
    1.3 MB parts) and a small last one; Y every 7th line, in one object."""
    base = Scenario("s3crash")
    base.direct(A)
    for f in range(nfiles):
        base.add_file(A, "f%d.ndjson.gz" % f, gz(lines(*big_events(rnd, A, 2200, "c%d" % f, width=2000))))
    base.additional(X, [A], max_object_bytes=6 << 20)
    picked = ["c%d-%06d" % (f, i) for f in range(nfiles) for i in range(0, 2200, 7)]
    base.additional(Y, [A], filter={"event_id": picked})
    sc = S3Scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    return sc


def multipart_requests(recs):
    """(part uploads, multipart uploads begun, completed) among records that succeeded."""
    ok = [r for r in recs if r["status"] == 200]
    return ([r for r in ok if r["method"] == "PUT" and "partNumber=" in r["target"]],
            [r for r in ok if r["method"] == "POST" and r["target"].endswith("?uploads")],
            [r for r in ok if r["method"] == "POST" and "uploadId=" in r["target"]])


RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")


def run_id_and_date(rid):
    return rid, "%s/%s/%s" % (rid[:4], rid[4:6], rid[6:8])


def key_templates(keys):
    """The keys of one run's objects, with its run id and date as {run_id}
    and {date}: what any run of the same scenario must put."""
    rids = {m for k in keys for m in RUN_ID.findall(k)}
    assert len(rids) == 1 and all(len(RUN_ID.findall(k)) == 1 for k in keys), keys
    rid, ymd = run_id_and_date(rids.pop())
    assert all(ymd in k for k in keys), keys
    return {k.replace(rid, "{run_id}").replace(ymd, "{date}") for k in keys}


def check_keys(sc, templates, what):
    """Every object of the destination bucket (under the prefix or not) is
    one that a single run puts: nothing stray, nothing of another run id."""
    keys = sorted(sc.peer.list_keys(sc.dst_bucket))
    rids = sorted({m for k in keys for m in RUN_ID.findall(k)})
    assert len(rids) == 1, "%s: objects of %d run ids: %s" % (what, len(rids), keys)
    rid, ymd = run_id_and_date(rids[0])
    eq(keys, sorted(t.replace("{run_id}", rid).replace("{date}", ymd) for t in templates),
       "%s: the objects in the destination bucket" % what)


@test
def test_crash_at_random_moments_with_multipart():
    """SIGKILL at 34 random moments of a run whose outputs go up as two
    multipart uploads of two parts each (and two single PUTs); each rerun must
    complete it exactly once, with no upload left open, objects already put
    rewritten byte for byte, and no object in the bucket but the run's own.
    Kills must land while a multipart upload is open, parts already stored."""
    p = peer()
    rnd = random.Random(int(os.environ.get("CRASH_SEED", "77")))
    sc = build_multipart_scenario(p, rnd)
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        assert len(exp.lines[Y]) > 0
        # slow replies to writes, so that kills land in every phase (listing,
        # reading, part uploads, completion, commit), not mostly in reading
        slow = [{"method": m, "times": -1, "action": "delay_ms:80"} for m in ("PUT", "POST")]
        p.set_faults(slow)
        p.reset_stats()
        t0 = time.time()
        sc.run("-q", "run", check=0, timeout=300)
        full = time.time() - t0
        p.clear_faults()
        parts, begun, completed = multipart_requests(p.requests())
        assert len(parts) >= 4 and len(begun) >= 2 and len(completed) == len(begun), \
            "the full run: %d parts in %d multipart uploads, %d completed" % (
                len(parts), len(begun), len(completed))
        templates = key_templates(p.list_keys(sc.dst_bucket))
        REPORT["part_uploads"] += len(parts)
        points = sorted(rnd.uniform(0.03, 0.97) * full for _ in range(34))
        killed = in_multipart = after_parts = 0
        for n, at in enumerate(points):
            sc.dst_bucket = new_bucket(p, "crash")
            shutil.rmtree(sc.path("state"), ignore_errors=True)
            sc.write_config()
            e = dict(os.environ, **sc.env)
            p.set_faults(slow)
            p.reset_stats()
            proc = subprocess.Popen([BIN, "-q", "-c", sc.path("evshare.json"), "run"], env=e,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(at)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
            quiesce(p)
            p.clear_faults()
            # did the kill land while a multipart upload was open, and after
            # some of its parts were stored?
            left = open_uploads(p, sc.dst_bucket)
            if left:
                in_multipart += 1
                c = p.client()
                if any(c.list_parts(Bucket=sc.dst_bucket, Key=u["Key"],
                                    UploadId=u["UploadId"]).get("Parts") for u in left):
                    after_parts += 1
            before = dict(sc.objects(None))
            pr = sc.run("-q", "run", check=None, timeout=300)
            assert pr.returncode == 0, "rerun after a kill at %.2fs: exit %d: %s" % (
                at, pr.returncode, pr.stderr.decode(errors="replace")[-800:])
            objs = sc.objects(None)
            after = dict(objs)
            for k, v in before.items():
                assert k in after and after[k] == v, \
                    "object %s changed after the kill at %.2fs" % (k, at)
            what = "after the kill at %.2fs (%d uploads were open)" % (at, len(left))
            check_keys(sc, templates, what)
            all_lines_once(sc, exp, [X, Y], what + ": ", objs=objs)
            no_open_uploads(sc)
            REPORT["crash_points"] += 1
        REPORT["killed"] += killed
        REPORT["killed_in_multipart"] += in_multipart
        REPORT["killed_after_parts"] += after_parts
        print("     %d crash points over a %.1fs run with %d part uploads in %d multipart uploads; "
              "%d runs killed, %d while a multipart upload was open, %d of them after parts were "
              "stored" % (len(points), full, len(parts), len(begun), killed, in_multipart,
                          after_parts))
        assert killed >= 30, killed
        assert in_multipart >= 5 and after_parts >= 2, \
            "too few kills during multipart uploads: %d, %d after parts" % (in_multipart, after_parts)
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
          "mid-run outages: %(outage_runs)d (%(outage_runs_completed)d finished correctly, "
          "%(outage_runs_failed_cleanly)d failed cleanly); crash points: %(crash_points)d, "
          "runs killed: %(killed)d, %(killed_in_multipart)d while a multipart upload was open "
          "(%(killed_after_parts)d after parts were stored; %(part_uploads)d part uploads "
          "in the full run)" % REPORT)


if __name__ == "__main__":
    main()
