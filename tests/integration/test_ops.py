#!/usr/bin/env python3
"""Integration tests of evshare's operations side: the progress line under
a pseudo-terminal, the Prometheus metrics file (checked by promtool), the
logs (text, JSON, -v, -q, every warning naming its URL), backfills with
--replay next to normal processing, the examples in examples/, and
make install / make uninstall into a temporary DESTDIR.

Standard library only (Debian's python3 runs it); promtool comes from
Debian's prometheus package (scripts/install-deps), python3-yaml parses
the CronJob, systemd-analyze verifies the units when it is there.
Ends with "N passed, N failed"; exits non-zero on failure.
"""
import fcntl
import gzip
import http.server
import json
import os
import pty
import re
import select
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Scenario, event, gz, lines, eq, test, main, BIN, ROOT  # noqa: E402

A, B = "TN-aaaa-0001", "TN-bbbb-0002"
X, Y, P = "TN-partner-x", "TN-partner-y", "TN-partner-new"
EXAMPLES = os.path.join(ROOT, "examples")
ERASE = b"\r\x1b[K"

# evshare must see only what a test gives it
for _v in list(os.environ):
    if _v.startswith("AWS_"):
        del os.environ[_v]
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/evshare-test/credentials"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/evshare-test/config"


def env_with(**kw):
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    e.update(kw)
    return e


def many_files(sc, org, n, per_file=20, prefix="f"):
    for i in range(n):
        evs = [event("%s-%s-%05d-%03d" % (prefix, org, i, j), org,
                     "onboarding" if j % 3 else "payments", "succeeded") for j in range(per_file)]
        sc.add_file(org, "2026/11/27/%s-%05d.ndjson.gz" % (prefix, i), gz(lines(*evs)))


def small_scenario(name, nfiles=3):
    sc = Scenario(name)
    sc.direct(A)
    many_files(sc, A, nfiles)
    sc.additional(X, [A], filter={"domain": ["onboarding"]})
    sc.write_config()
    return sc


def run_pty(args, env=None, cols=200, timeout=300):
    """Run BIN with stderr on a pseudo-terminal (stdout a pipe).  Returns
    (exit status, stdout bytes, terminal bytes, seconds).  The terminal is
    read to its end: EIO once evshare, the only holder of the slave, has
    exited and every byte it wrote was read; timeout is only a failsafe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    t0 = time.monotonic()
    p = subprocess.Popen([BIN] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=slave, env=env or env_with(TERM="xterm"))
    os.close(slave)
    term = bytearray()
    out = bytearray()

    def drain_stdout():
        out.extend(p.stdout.read())
    th = threading.Thread(target=drain_stdout)
    th.start()
    deadline = t0 + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([master], [], [], left)[0]:
                p.kill()
                raise AssertionError("evshare's terminal did not end in %d s" % timeout)
            try:
                chunk = os.read(master, 65536)
            except OSError:          # EIO: every slave end is closed
                break
            if not chunk:
                break
            term.extend(chunk)
        rc = p.wait()
    finally:
        th.join()
        os.close(master)
    return rc, bytes(out), bytes(term), time.monotonic() - t0


def progress_draws(term):
    return term.count(b"\revshare: ")


# --- 1. progress -------------------------------------------------------------


@test
def test_progress_line_under_script():
    """script(1) gives evshare a terminal: one line redrawn in place with
    files done/total, bytes read, MB/s, events matched and ETA; erased at
    the end; the summary on stdout untouched."""
    script = shutil.which("script")
    assert script, "script(1) (util-linux) is missing"
    sc = small_scenario("progress-script", nfiles=30)
    try:
        out = sc.path("stdout.txt")
        cmd = "exec %s -c %s run --jobs 1 >%s" % (BIN, sc.path("evshare.json"), out)
        p = subprocess.run([script, "-q", "-e", "-c", cmd, "/dev/null"], capture_output=True,
                           stdin=subprocess.DEVNULL, env=env_with(TERM="xterm"), timeout=300)
        eq(p.returncode, 0, "exit status under script")
        term = p.stdout
        assert progress_draws(term) >= 1, term
        m = re.search(rb"\revshare: (\d+)/30 files, [\d.]+ [kMG]B read, [\d.]+ MB/s, "
                      rb"(\d+) events matched, ETA [\d:-]+\x1b\[K", term)
        assert m, "no progress line in %r" % term[:400]
        # the last thing about the progress line is its erasure
        last = term.rfind(b"\revshare: ")
        assert ERASE in term[last:], "progress line not erased at the end"
        with open(out, "rb") as f:
            summary = f.read()
        assert summary.startswith(b"run "), summary[:200]
        assert b"\r" not in summary and b"\x1b" not in summary, "progress leaked into stdout"
        assert b"30 processed" in summary, summary
    finally:
        sc.cleanup()


@test
def test_progress_counts_on_a_pty_and_width():
    sc = small_scenario("progress-pty", nfiles=12)
    try:
        rc, out, term, _ = run_pty(["-c", sc.path("evshare.json"), "run", "--json"])
        eq(rc, 0, "exit status")
        summary = json.loads(out)
        draws = re.findall(rb"\revshare: (\d+)/(\d+) files, .*? (\d+) events matched", term)
        assert draws, term
        for done, total, matched in draws:
            eq(int(total), 12, "files total")
            assert int(done) <= 12 and int(matched) <= summary["events"]["matched"], draws
        # done counts never go back
        dones = [int(d) for d, _, _ in draws]
        eq(dones, sorted(dones), "files done only grows")
        assert term.endswith(ERASE), term[-100:]
        # a narrow terminal: the line is cut, never wrapped
        rc, _, term, _ = run_pty(["-c", sc.path("evshare.json"), "run", "--replay"], cols=50)
        eq(rc, 0, "exit status")
        shown = re.findall(rb"\r(evshare: [^\r\x1b]*)\x1b\[K", term)
        assert shown, term
        for line in shown:
            assert len(line) <= 49, line
    finally:
        sc.cleanup()


@test
def test_progress_redraws_at_most_a_few_times_a_second():
    sc = Scenario("progress-rate")
    try:
        sc.direct(A)
        # a run of a second or more: the same 6 MB of events in many files,
        # a filter that matches little, dedup off
        evs = [event("r-%06d" % j, A, "payments" if j % 500 else "onboarding", "settled",
                     data={"pad": "x" * 150}) for j in range(20000)]
        first = sc.add_file(A, "2026/11/27/big-000.ndjson.gz", gz(lines(*evs)))
        for i in range(1, 100):         # hard links: 100 files, the space of one
            os.link(first, os.path.join(os.path.dirname(first), "big-%03d.ndjson.gz" % i))
        sc.additional(X, [A], filter={"domain": ["onboarding"]}, dedup=False)
        sc.write_config()
        rc, _, term, secs = run_pty(["-c", sc.path("evshare.json"), "run"])
        eq(rc, 0, "exit status")
        draws = progress_draws(term)
        print("     %d draws in %.2f s" % (draws, secs))
        # 250 ms apart at most four a second, plus the first one
        assert 1 <= draws <= 4 * secs + 2, "%d draws in %.2f s" % (draws, secs)
        if secs > 1.5:
            assert draws >= 2, "only %d draw in %.2f s" % (draws, secs)
    finally:
        sc.cleanup()


@test
def test_no_progress_when_not_a_terminal_or_no_progress_or_quiet():
    sc = small_scenario("progress-off")
    try:
        p = sc.run("run", check=0, env={"TERM": "xterm"})
        assert b"\r" not in p.stderr and b"\x1b" not in p.stderr and b"files," not in p.stderr, p.stderr
        sc2 = small_scenario("progress-off2")
        cfg = sc2.path("evshare.json")
        try:
            for args in (["-c", cfg, "run", "--replay", "--no-progress"],
                         ["-c", cfg, "-q", "run", "--replay"]):
                rc, _, term, _ = run_pty(args)
                eq(rc, 0, "exit status of %s" % args)
                eq(progress_draws(term), 0, "draws with %s" % args)
                assert b"\x1b" not in term, term
            # TERM=dumb cannot redraw in place
            rc, _, term, _ = run_pty(["-c", sc2.path("evshare.json"), "run", "--replay"],
                                     env=env_with(TERM="dumb"))
            eq(progress_draws(term), 0, "draws with TERM=dumb")
            # -q with --progress: forced on the terminal
            rc, _, term, _ = run_pty(["-c", sc2.path("evshare.json"), "-q", "run", "--replay",
                                      "--progress"])
            eq(rc, 0, "exit status")
            assert progress_draws(term) >= 1, term
        finally:
            sc2.cleanup()
    finally:
        sc.cleanup()


@test
def test_progress_forced_without_a_terminal_goes_to_the_log():
    sc = small_scenario("progress-forced", nfiles=4)
    try:
        p = sc.run("run", "--progress", check=0)
        assert b"\x1b" not in p.stderr and b"\r" not in p.stderr, p.stderr
        assert re.search(rb"evshare: progress: 4/4 files, .* read, .* MB/s, \d+ events matched, "
                         rb"ETA 0:00\n", p.stderr), p.stderr
        p = sc.run("--log-format", "json", "run", "--replay", "--progress", check=0)
        recs = [json.loads(l) for l in p.stderr.splitlines()]
        prog = [r for r in recs if r["msg"].startswith("progress: ")]
        assert prog and prog[-1]["level"] == "info", recs
        assert prog[-1]["msg"].startswith("progress: 4/4 files"), prog
        # list does not read files: no progress options
        sc.run("list", "--progress", check=64)
    finally:
        sc.cleanup()


@test
def test_log_messages_erase_the_progress_line_first():
    sc = Scenario("progress-log")
    try:
        sc.direct(A)
        for i in range(6):
            evs = [event("e-%d-%d" % (i, j), A) for j in range(5)] + [b'{"bad json', event("o-%d" % i, B)]
            sc.add_file(A, "f-%02d.ndjson.gz" % i, gz(lines(*evs)))
        sc.additional(X, [A])
        sc.write_config()
        rc, _, term, _ = run_pty(["-c", sc.path("evshare.json"), "run"])
        eq(rc, 0, "exit status")
        warnings = [m.start() for m in re.finditer(rb"evshare: warning: ", term)]
        eq(len(warnings), 6, "one warning per file")
        for pos in warnings:
            before = term[:pos]
            last_draw = before.rfind(b"\revshare: ")
            if last_draw < 0:
                continue
            # a drawn line is erased before the warning is written
            assert before.endswith(ERASE) or before.endswith(b"\n"), before[-120:]
            assert b"\n" in before[last_draw:] or before.endswith(ERASE), before[-120:]
        for line in term.split(b"\n"):
            if b"warning:" in line:
                assert b"events matched" not in line.split(ERASE)[-1], line
    finally:
        sc.cleanup()


# --- 2. metrics --------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)')


def parse_metrics(text):
    """A strict reader of the text format (0.0.4): HELP and TYPE before
    their samples, once each, samples of declared families only, label
    values escaped.  Returns {name: {labels tuple: value}} and types."""
    values, types, helps = {}, {}, set()
    assert text.endswith("\n"), "the file must end with a newline"
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, "line %d: second HELP for %s" % (n, name)
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            assert name not in types, "line %d: second TYPE for %s" % (n, name)
            assert name not in values, "line %d: TYPE after samples of %s" % (n, name)
            types[name] = typ
            continue
        assert not line.startswith("#") and line.strip(), "line %d: %r" % (n, line)
        m = SAMPLE.match(line)
        assert m, "line %d: not a sample: %r" % (n, line)
        name, _, labels, value = m.group(1), m.group(2), m.group(3), m.group(4)
        assert name in types, "line %d: sample of undeclared %s" % (n, name)
        lab = []
        if labels:
            pos = 0
            while pos < len(labels):
                lm = LABEL.match(labels, pos)
                assert lm, "line %d: bad labels %r" % (n, labels)
                lab.append((lm.group(1), lm.group(2).replace("\\n", "\n").replace('\\"', '"')
                            .replace("\\\\", "\\")))
                pos = lm.end()
        key = tuple(sorted(lab))
        assert key not in values.setdefault(name, {}), "line %d: duplicate sample" % n
        values[name][key] = float(value)
    return values, types


def promtool_check(path):
    promtool = shutil.which("promtool")
    assert promtool, ("promtool is missing: scripts/install-deps installs Debian's "
                      "prometheus package, which has it")
    with open(path, "rb") as f:
        p = subprocess.run([promtool, "check", "metrics"], stdin=f, capture_output=True,
                           timeout=60)
    assert p.returncode == 0, "promtool check metrics: %s%s" % (p.stdout.decode(),
                                                                 p.stderr.decode())


def read_metrics(path):
    promtool_check(path)
    with open(path) as f:
        vals, types = parse_metrics(f.read())
    for name, typ in types.items():
        eq(typ, "gauge", "type of " + name)
    return vals


def one(vals, name, **labels):
    return vals[name][tuple(sorted(labels.items()))]


def bad_input_scenario(name):
    """Two sources, two partners: duplicates, malformed and rejected
    lines, a truncated gzip file."""
    sc = Scenario(name)
    sc.direct(A)
    sc.direct(B)
    ea = [event("a-%03d" % i, A, "onboarding" if i % 2 else "payments", "succeeded")
          for i in range(30)]
    sc.add_file(A, "2026/11/27/a-1.ndjson.gz", gz(lines(*ea[:20])))
    sc.add_file(A, "2026/11/27/a-2.ndjson.gz", gz(lines(*(ea[20:] + [ea[1], b'{"x":', event("r", B)]))))
    full = gz(lines(*[event("t-%d" % i, A) for i in range(50)]))
    sc.add_file(A, "2026/11/27/a-truncated.ndjson.gz", full[:len(full) // 2])
    sc.add_file(B, "2026/11/27/b-1.ndjson", lines(event("b-1", B), event("b-2", B), b"[1]"))
    sc.additional(X, [A, B], filter={"domain": ["onboarding"]}, max_object_bytes=1024)
    sc.additional(Y, [B])
    sc.write_config()
    return sc


@test
def test_metrics_file_is_valid_and_matches_the_summary():
    sc = bad_input_scenario("metrics")
    try:
        mpath = sc.path("metrics", "evshare.prom")
        os.makedirs(os.path.dirname(mpath))
        t0 = time.time()
        p = sc.run("run", "--json", "--metrics-file", mpath, check=1)
        t1 = time.time()
        s = json.loads(p.stdout)
        vals = read_metrics(mpath)
        eq(one(vals, "evshare_build_info", version="0.1.0"), 1, "build info")
        start = one(vals, "evshare_last_run_start_timestamp_seconds")
        end = one(vals, "evshare_last_run_end_timestamp_seconds")
        assert t0 - 1 <= start <= end <= t1 + 1, (t0, start, end, t1)
        assert abs(one(vals, "evshare_last_run_duration_seconds") - (end - start)) < 0.002
        eq(one(vals, "evshare_last_success_timestamp_seconds"), 0, "no success yet")
        eq(one(vals, "evshare_last_run_exit_status"), 1, "exit status")
        eq(one(vals, "evshare_last_run_status", status="partial"), 1, "status partial")
        eq(one(vals, "evshare_last_run_status", status="ok"), 0, "status ok")
        eq(one(vals, "evshare_last_run_status", status="failed"), 0, "status failed")
        eq(one(vals, "evshare_last_run_replay"), 0, "replay")
        eq(one(vals, "evshare_last_run_resumed"), 0, "resumed")
        eq(one(vals, "evshare_last_run_files_listed"), s["files"]["listed"], "listed")
        eq(one(vals, "evshare_last_run_files_planned"), s["files"]["planned"], "planned")
        eq(one(vals, "evshare_last_run_files", outcome="processed"), s["files"]["processed"], "processed")
        eq(one(vals, "evshare_last_run_files", outcome="failed"), 1, "failed files")
        eq(one(vals, "evshare_last_run_poisoned_files"), 0, "poisoned")
        eq(one(vals, "evshare_last_run_failed_sources"), 0, "failed sources")
        ev = s["events"]
        eq(one(vals, "evshare_last_run_events_read"), ev["read"], "events read")
        for outcome, key in (("malformed", "malformed"), ("rejected", "rejected"),
                             ("duplicate", "duplicates"), ("written", "written")):
            eq(one(vals, "evshare_last_run_events", outcome=outcome), ev[key], outcome)
        assert ev["malformed"] == 2 and ev["rejected"] == 1 and ev["duplicates"] >= 1, ev
        eq(one(vals, "evshare_last_run_input_bytes"), s["bytes"]["read"], "input bytes")
        eq(one(vals, "evshare_last_run_output_bytes"), s["bytes"]["written"], "output bytes")
        for so in s["subscribers"]:
            eq(one(vals, "evshare_last_run_subscriber_events", subscriber=so["org_id"]),
               so["events"], "events of " + so["org_id"])
            eq(one(vals, "evshare_last_run_subscriber_objects", subscriber=so["org_id"]),
               len(so["objects"]), "objects of " + so["org_id"])
        eq(one(vals, "evshare_last_run_http_retries"), 0, "no HTTP here")
        eq(sorted(os.listdir(sc.path("metrics"))), ["evshare.prom"], "no temporary file left")
        eq(stat.S_IMODE(os.stat(mpath).st_mode) & 0o444, 0o444, "readable by node_exporter")
    finally:
        sc.cleanup()


@test
def test_metrics_keep_the_last_success_across_failures():
    sc = small_scenario("metrics-success")
    try:
        mpath = sc.path("evshare.prom")
        sc.run("run", "--metrics-file", mpath, check=0)
        v1 = read_metrics(mpath)
        ok_end = one(v1, "evshare_last_run_end_timestamp_seconds")
        eq(one(v1, "evshare_last_success_timestamp_seconds"), ok_end, "success = end")
        eq(one(v1, "evshare_last_run_status", status="ok"), 1, "ok")
        # a run that cannot start (the lock is held): 75, failed, success kept
        with open(sc.path("state", "lock"), "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            sc.run("run", "--replay", "--metrics-file", mpath, check=75)
        v2 = read_metrics(mpath)
        eq(one(v2, "evshare_last_run_exit_status"), 75, "exit status")
        eq(one(v2, "evshare_last_run_replay"), 1, "a replay, from its options")
        eq(one(v2, "evshare_last_run_status", status="failed"), 1, "failed")
        eq(one(v2, "evshare_last_success_timestamp_seconds"), ok_end, "success carried over")
        assert one(v2, "evshare_last_run_end_timestamp_seconds") >= ok_end
        assert "evshare_last_run_subscriber_events" not in v2, "no summary, no subscribers"
        # a bad configuration: 78, still written
        with open(sc.path("evshare.json"), "w") as f:
            f.write('{"state_dir": 1}')
        sc.run("run", "--metrics-file", mpath, check=78)
        v3 = read_metrics(mpath)
        eq(one(v3, "evshare_last_run_exit_status"), 78, "exit status")
        eq(one(v3, "evshare_last_success_timestamp_seconds"), ok_end, "success carried over")
        # a dry run writes no metrics
        before = open(mpath, "rb").read()
        sc.write_config()
        sc.run("run", "--dry-run", "--metrics-file", mpath, check=0)
        eq(open(mpath, "rb").read(), before, "dry run leaves the metrics file")
        # a usage error is no run: no metrics, whatever the options' order
        for args in (["--metrics-file", mpath, "--since", "bogus"],
                     ["--since", "bogus", "--metrics-file", mpath],
                     ["--metrics-file", mpath, "--help"]):
            sc.run("run", *args, check=64 if "--help" not in args else 0)
            eq(open(mpath, "rb").read(), before, "%s leaves the metrics file" % args)
        # an unwritable path: an error in the log, the run's own status stands
        p = sc.run("run", "--metrics-file", sc.path("no", "such", "dir.prom"), check=0)
        assert b"cannot write" in p.stderr and b"dir.prom" in p.stderr, p.stderr
    finally:
        sc.cleanup()


@test
def test_metrics_add_in_the_interrupted_run_finished_first():
    sc = small_scenario("metrics-resume", nfiles=4)
    try:
        mpath = sc.path("evshare.prom")
        so = os.environ.get("CRASHPOINT_SO")
        if not so or not os.path.exists(so):
            raise AssertionError("CRASHPOINT_SO not set: build tests/tools/crashpoint.c")
        # killed once the plan is journaled and the first file is read
        # (its outcome appended): an interrupted run
        env = {"LD_PRELOAD": so, "ASAN_OPTIONS": "detect_leaks=1:verify_asan_link_order=0"}
        for n in range(3, 40):
            p = sc.run("run", "--metrics-file", mpath, env=dict(env, CRASHPOINT_AT=str(n)))
            assert p.returncode == -9, (n, p.returncode, p.stderr)
            if os.path.exists(sc.path("state", "plan.outcomes")):
                break
            shutil.rmtree(sc.path("state"))
        assert os.path.exists(sc.path("state", "plan.json")), "interrupted"
        assert not os.path.exists(mpath), "a killed run writes no metrics"
        many_files(sc, A, 2, prefix="late")
        p = sc.run("run", "--json", "--metrics-file", mpath, check=0)
        s = json.loads(p.stdout)
        assert "resumed_run" in s, s
        vals = read_metrics(mpath)
        eq(one(vals, "evshare_last_run_resumed"), 1, "resumed")
        eq(one(vals, "evshare_last_run_files", outcome="processed"),
           s["files"]["processed"] + s["resumed_run"]["files"]["processed"], "processed")
        eq(one(vals, "evshare_last_run_files", outcome="processed"), 6, "4 + 2 files")
        eq(one(vals, "evshare_last_run_subscriber_events", subscriber=X),
           s["subscribers"][0]["events"] + s["resumed_run"]["subscribers"][0]["events"],
           "events of X")
    finally:
        sc.cleanup()


class FakeS3(http.server.BaseHTTPRequestHandler):
    """Just enough S3 for a listing and GETs; the first `fail` requests
    get 503 SlowDown."""
    objects = {}
    fail = 0
    requests = 0
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_GET(self):
        with FakeS3.lock:
            FakeS3.requests += 1
            failing = FakeS3.fail > 0
            if failing:
                FakeS3.fail -= 1
        if failing:
            body = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
                    b'<Message>Please reduce your request rate.</Message></Error>')
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        path, _, query = self.path.partition("?")
        if path == "/bucket" or path == "/bucket/":
            items = "".join(
                "<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>&quot;%s&quot;</ETag>"
                "<Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>" % (
                    k, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60)),
                    "e%08x" % (hash(k) & 0xffffffff), len(v))
                for k, v in sorted(FakeS3.objects.items()))
            body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
                    'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name>'
                    '<Prefix>src/</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>'
                    '<IsTruncated>false</IsTruncated>%s</ListBucketResult>' % (
                        len(FakeS3.objects), items)).encode()
            ctype = "application/xml"
        else:
            key = path[len("/bucket/"):]
            if key not in FakeS3.objects:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = FakeS3.objects[key]
            ctype = "application/octet-stream"
            self.send_response(200)
            self.send_header("ETag", '"e%08x"' % (hash(key) & 0xffffffff))
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@test
def test_metrics_count_http_retries():
    FakeS3.objects = {"src/2026/11/27/a.ndjson.gz": gz(lines(event("s3-1", A), event("s3-2", A)))}
    FakeS3.fail = 2
    FakeS3.requests = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    sc = Scenario("metrics-retries")
    try:
        cfg = {"state_dir": "state",
               "direct_subscribers": [{"org_id": A, "source": {
                   "url": "s3://bucket/src/", "endpoint": "http://127.0.0.1:%d" % srv.server_port,
                   "path_style": True, "region": "us-east-1"}}],
               "additional_subscribers": [{"org_id": X, "links": [A], "destination": "file:out/"}]}
        sc.write_config(cfg)
        mpath = sc.path("evshare.prom")
        p = sc.run("-v", "run", "--json", "--metrics-file", mpath, check=0,
                   env={"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
                        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})
        s = json.loads(p.stdout)
        eq(s["events"]["written"], 2, "events through the fake S3")
        vals = read_metrics(mpath)
        eq(one(vals, "evshare_last_run_http_retries"), 2, "retries after two 503s")
        eq(FakeS3.requests, 4, "requests: 2 failed, the listing, the GET")
        eq(len(re.findall(rb"retrying in", p.stderr)), 2, "-v logs each retry")
    finally:
        srv.shutdown()
        srv.server_close()
        sc.cleanup()


# --- 3. logs -----------------------------------------------------------------


def json_log(stderr):
    recs = []
    for line in stderr.decode().splitlines():
        r = json.loads(line)
        for k in ("time", "level", "msg"):
            assert k in r, "%s missing in %r" % (k, line)
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", r["time"]), r
        assert r["level"] in ("error", "warning", "info", "debug", "trace"), r
        recs.append(r)
    return recs


def assert_problems_name_their_url(recs):
    problems = [r for r in recs if r["level"] in ("warning", "error")]
    for r in problems:
        assert isinstance(r.get("url"), str) and re.match(r"^(file|s3|gs|az)://", r["url"]), \
            "no url in %r" % r
        assert r["url"] in r["msg"], "the message does not quote its url: %r" % r
    return problems


@test
def test_json_logs_every_warning_and_error_names_its_url():
    sc = bad_input_scenario("logs")
    try:
        # more trouble: a symbolic link in a source, a source that cannot
        # be listed, a file replaced after it was read
        os.symlink("/etc/hostname", sc.path(dict(sc.sources)[B], "link.ndjson"))
        cfg = sc.config()
        cfg["max_attempts"] = 2
        cfg["direct_subscribers"].append({"org_id": "TN-gone-0003",
                                          "source": "file:buckets/gone/events/"})
        cfg["additional_subscribers"][1]["links"].append("TN-gone-0003")
        sc.write_config(cfg)
        seen = set()
        for n in range(4):
            if n == 1:
                p = sc.path(dict(sc.sources)[B], "2026/11/27/b-1.ndjson")
                with open(p, "ab") as f:
                    f.write(lines(event("b-3", B)))
            p = sc.run("--log-format", "json", "-v", "run", check=1)
            recs = json_log(p.stderr)
            for r in assert_problems_name_their_url(recs):
                seen.add(re.sub(r"'[^']*'", "'…'", r["msg"])[:60])
            if n == 0:
                assert any(r["level"] == "debug" and r["msg"].startswith("reading ")
                           and "url" in r for r in recs), "-v: per-file detail"
        text = "\n".join(sorted(seen))
        for what in ("malformed and", "failed: ", "poisoned", "cannot list", "symbolic link",
                     "changed since"):
            assert what in text, "no warning about %r in:\n%s" % (what, text)
    finally:
        sc.cleanup()


@test
def test_text_logs_and_verbosity():
    sc = bad_input_scenario("logs-text")
    try:
        p = sc.run("run", check=1)
        err = p.stderr.decode()
        assert err and all(l.startswith("evshare: ") for l in err.splitlines()), err
        assert "evshare: warning: '" in err and "{" not in err.split("\n")[0], err
        assert not any(l.startswith("evshare: debug:") for l in err.splitlines()), err
        assert p.stdout.startswith(b"run "), p.stdout
        # -q: warnings and errors only, no summary
        p = sc.run("-q", "run", "--replay", check=1)
        eq(p.stdout, b"", "-q prints no summary")
        for l in p.stderr.decode().splitlines():
            assert l.startswith("evshare: warning: ") or l.startswith("evshare: error: "), l
        assert p.stderr, "warnings still shown with -q"
        # -v: one line per file read, one per object put, one per bad line
        p = sc.run("-v", "run", "--replay", check=1)
        err = p.stderr.decode()
        # (the truncated file makes the run start over: some are read twice)
        eq(len(set(re.findall(r"evshare: debug: reading '([^']*)'", err))), 4, "files read")
        assert re.search(r"evshare: debug: put 'file://", err), err
        assert re.search(r"line \d+: .*quarantined", err), err
        # -q wins over -v
        p = sc.run("-q", "-v", "run", "--replay", check=1)
        assert "debug" not in p.stderr.decode()
    finally:
        sc.cleanup()


# --- 4. backfills ------------------------------------------------------------

DAY = 86400


def aged_scenario(name):
    """Files of one source from 40 days ago to today; partner X linked
    from the start, Y too."""
    sc = Scenario(name)
    sc.direct(A)
    for age in (40, 35, 29, 20, 10, 6, 3, 1):
        evs = [event("d%02d-%d" % (age, j), A, "onboarding" if j % 2 else "payments")
               for j in range(6)]
        sc.add_file(A, "2026/%02d/part.ndjson.gz" % age, gz(lines(*evs)), age_s=age * DAY)
    sc.additional(X, [A], filter={"domain": ["onboarding"]})
    sc.additional(Y, [A])
    return sc


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def state_records(sc):
    p = sc.run("state", "show", "--files", "--json", check=0)
    st = json.loads(p.stdout)
    return {src["org_id"]: sorted((r["key"], tuple(sorted(r["done"])), r["failures"])
                                  for r in src["records"]) for src in st["sources"]}, st


@test
def test_replay_leaves_normal_processing_and_state_untouched():
    """Twin scenarios, identical but for a replay of a window to X in
    one: its state.json stays byte for byte, earlier objects stay, the
    replay's objects have a new run id, and the next normal run reads and
    delivers exactly what the twin's does."""
    twins = [aged_scenario("replay-a"), aged_scenario("replay-b")]
    try:
        for sc in twins:
            sc.write_config()
            sc.run("run", check=0)
            for i in range(3):
                evs = [event("new-%d-%d" % (i, j), A, "onboarding") for j in range(4)]
                sc.add_file(A, "2026/new/n-%d.ndjson.gz" % i, gz(lines(*evs)), age_s=600 - i)
        sc = twins[0]
        with open(sc.path("state", "state.json"), "rb") as f:
            state_before = f.read()
        objects_before = sc.snapshot("out")
        since, until = iso(time.time() - 30 * DAY), iso(time.time() - 8 * DAY)
        lp = sc.run("list", "--json", "--replay", "--subscriber", X, "--since", since,
                    "--until", until, check=0)
        listed = [json.loads(l) for l in lp.stdout.splitlines()]
        eq(sorted(r["key"] for r in listed),
           ["2026/10/part.ndjson.gz", "2026/20/part.ndjson.gz", "2026/29/part.ndjson.gz"],
           "list --replay shows the window")
        assert all(r["subscribers"] == [X] for r in listed), listed
        # without --replay the window is behind the horizon: nothing to read
        lp = sc.run("list", "--subscriber", X, "--since", since, "--until", until, check=0)
        eq(lp.stdout, b"", "a normal run would read nothing of the window")
        rs = sc.run_json("--replay", "--subscriber", X, "--since", since, "--until", until)
        eq(rs["replay"], True, "replay")
        eq(rs["files"]["processed"], 3, "files replayed")
        runs_before = {re.search(r"\d{8}T\d{6}Z-[0-9a-f]{8}", k).group(0) for k in objects_before}
        assert rs["run_id"] not in runs_before, "a new run id"
        xs = [so for so in rs["subscribers"] if so["org_id"] == X][0]
        ys = [so for so in rs["subscribers"] if so["org_id"] == Y][0]
        eq(ys["objects"], [], "Y untouched by a replay for X")
        assert xs["objects"] and all(rs["run_id"] in u for u in xs["objects"]), xs
        got = []
        for u in xs["objects"]:
            with open(u[len("file://"):], "rb") as f:
                got += gzip.decompress(f.read()).splitlines()
        eq(sorted(json.loads(l)["event_id"] for l in got),
           sorted("d%02d-%d" % (age, j) for age in (29, 20, 10) for j in (1, 3, 5)),
           "the window's events for X")
        with open(sc.path("state", "state.json"), "rb") as f:
            eq(f.read(), state_before, "state.json after the replay")
        after = sc.snapshot("out")
        for k, v in objects_before.items():
            eq(after.get(k), v, "object %s after the replay" % k)
        assert not os.path.exists(sc.path("state", "plan.json")), "journal cleared"
        # the next normal run: the same as the twin that had no replay
        results = [tw.run_json() for tw in twins]
        for key in ("files", "events", "bytes"):
            eq(results[0][key], results[1][key], "normal run after a replay: " + key)
        for tw_sub in (X, Y):
            eq([json.loads(l)["event_id"] for l in lines_of_last_run(twins[0], results[0], tw_sub)],
               [json.loads(l)["event_id"] for l in lines_of_last_run(twins[1], results[1], tw_sub)],
               "lines of %s in the normal run" % tw_sub)
        eq(state_records(twins[0])[0], state_records(twins[1])[0], "file records")
    finally:
        for sc in twins:
            sc.cleanup()


def lines_of_last_run(sc, summary, sub):
    out = []
    for so in summary["subscribers"]:
        if so["org_id"] == sub:
            for u in so["objects"]:
                with open(u[len("file://"):], "rb") as f:
                    out += gzip.decompress(f.read()).splitlines()
    return out


@test
def test_backfill_of_a_partner_linked_today_as_the_man_page_says():
    """evshare(1), EXAMPLES: a partner linked today wants the last 30 days.
    The next normal run gives it the files from the horizon on; a replay
    gives it the 30 days before the horizon; together: every file of the
    last 30 days exactly once."""
    sc = aged_scenario("backfill")
    try:
        sc.write_config()
        sc.run("run", check=0)          # the cron runs so far, without P
        # the operator links P while holding the run lock, and reads the horizon
        cfg = sc.config()
        cfg["additional_subscribers"].append({"org_id": P, "links": [A],
                                              "destination": "file:out-new/"})
        with open(sc.path("state", "lock"), "w") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            sc.write_config(cfg)
            sc.run("run", check=75)     # a scheduled run meanwhile: exits 75
            sc.run("check", check=0)
            _, st = state_records(sc)
            horizon = st["sources"][0]["horizon"]
        lp = sc.run("list", "--json", "--subscriber", P, check=0)
        first = sorted(json.loads(l)["key"] for l in lp.stdout.splitlines())
        eq(first, ["2026/01/part.ndjson.gz", "2026/03/part.ndjson.gz", "2026/06/part.ndjson.gz"],
           "the next run gives P the files from the horizon on")
        since = iso(time.time() - 30 * DAY)
        lp = sc.run("list", "--json", "--replay", "--subscriber", P, "--since", since,
                    "--until", horizon, check=0)
        eq(sorted(json.loads(l)["key"] for l in lp.stdout.splitlines()),
           ["2026/10/part.ndjson.gz", "2026/20/part.ndjson.gz", "2026/29/part.ndjson.gz"],
           "the replay window")
        sc.run("run", "--replay", "--subscriber", P, "--since", since, "--until", horizon,
               check=0)
        r = sc.run_json()               # the next scheduled run
        eq(r["files"]["processed"], 3, "the normal run read the lookback window for P")
        ids = [json.loads(l)["event_id"] for l in sc.output_lines(P, dest="out-new")]
        eq(sorted(ids), sorted("d%02d-%d" % (age, j) for age in (29, 20, 10, 6, 3, 1)
                               for j in range(6)), "P has the last 30 days")
        eq(len(ids), len(set(ids)), "no event twice")
        for so in r["subscribers"]:
            if so["org_id"] in (X, Y):
                eq(so["objects"], [], "X and Y got nothing again")
        eq(sc.run_json()["files"]["planned"], 0, "and then nothing is owed")
    finally:
        sc.cleanup()


# --- 5. examples -------------------------------------------------------------


def example_configs():
    out = []
    for dp, dns, fns in os.walk(EXAMPLES):
        dns[:] = [d for d in dns if d not in ("fixture", "expected") and not d.startswith("azure")]
        for fn in fns:
            if fn.endswith(".json") and not fn.startswith("azure"):
                out.append(os.path.join(dp, fn))
    return sorted(out)


@test
def test_example_configs_pass_check():
    cfgs = example_configs()
    names = {os.path.relpath(c, EXAMPLES) for c in cfgs}
    for want in ("aws.json", "s3-compatible.json", "gcs.json", "ci-replay/ci.json",
                 "demo/evshare.json"):
        assert want in names, "%s missing from examples/" % want
    for c in cfgs:
        p = subprocess.run([BIN, "-c", c, "check"], capture_output=True, env=env_with(),
                           timeout=60)
        assert p.returncode == 0, "%s: %s" % (c, p.stderr.decode())
    schemes = {}
    for c in cfgs:
        with open(c) as f:
            text = f.read()
        schemes[os.path.basename(c)] = set(re.findall(r'"(s3|gs|file):', text))
    assert "s3" in schemes["aws.json"] and "gs" in schemes["gcs.json"], schemes
    with open(os.path.join(EXAMPLES, "s3-compatible.json")) as f:
        assert '"endpoint"' in f.read()


@test
def test_example_crontab_line():
    with open(os.path.join(EXAMPLES, "crontab")) as f:
        entries = [l for l in f.read().splitlines()
                   if l.strip() and not l.startswith("#") and not re.match(r"^\w+=", l)]
    eq(len(entries), 1, "one crontab entry")
    fields = entries[0].split()
    minute, hour, dom, mon, dow = fields[:5]
    for v, lo, hi in ((minute, 0, 59), (hour, 0, 23), (dom, 1, 31), (mon, 1, 12), (dow, 0, 7)):
        assert re.match(r"^(\*|\d+)(-\d+)?(/\d+)?(,(\d+)(-\d+)?)*$", v), v
        for n in re.findall(r"\d+", v.split("/")[0]):
            assert lo <= int(n) <= hi, v
    cmd = fields[5:]
    assert cmd[0].endswith("/evshare") and "run" in cmd, cmd
    assert "flock" not in entries[0], "evshare locks itself"
    # the command line is one evshare accepts: run it against a scenario
    sc = small_scenario("crontab")
    try:
        args = cmd[1:]
        args[args.index("-c") + 1] = sc.path("evshare.json")
        args[args.index("--metrics-file") + 1] = sc.path("evshare.prom")
        p = subprocess.run([BIN] + args, capture_output=True, env=env_with(), timeout=120)
        eq(p.returncode, 0, "the crontab command: %s" % p.stderr.decode())
        eq(p.stdout, b"", "-q: cron mails nothing when all is well")
        eq(p.stderr, b"", "-q: no stderr when all is well")
        read_metrics(sc.path("evshare.prom"))
    finally:
        sc.cleanup()


@test
def test_example_systemd_units():
    svc = os.path.join(EXAMPLES, "evshare.service")
    tmr = os.path.join(EXAMPLES, "evshare.timer")
    with open(svc) as f:
        unit = f.read()
    exec_start = re.search(r"^ExecStart=(\S+)(.*)$", unit, re.M)
    assert exec_start and exec_start.group(1).endswith("/evshare"), unit
    assert "Type=oneshot" in unit and "StateDirectory=evshare" in unit
    with open(tmr) as f:
        assert "OnCalendar=" in f.read()
    # the command line is one evshare accepts
    sc = small_scenario("systemd")
    try:
        args = exec_start.group(2).split()
        args[args.index("--metrics-file") + 1] = sc.path("evshare.prom")
        p = subprocess.run([BIN] + args, capture_output=True,
                           env=env_with(EVSHARE_CONFIG=sc.path("evshare.json")), timeout=120)
        eq(p.returncode, 0, "the unit's command: %s" % p.stderr.decode())
        json_log(p.stderr)
        read_metrics(sc.path("evshare.prom"))
    finally:
        sc.cleanup()
    sa = shutil.which("systemd-analyze")
    if not sa:
        print("     (systemd-analyze not installed: units not verified)")
        return
    d = tempfile.mkdtemp(prefix="evshare-units-")
    try:
        # verify checks that ExecStart exists: point it at the built binary
        with open(os.path.join(d, "evshare.service"), "w") as f:
            f.write(unit.replace(exec_start.group(1), BIN))
        shutil.copy(tmr, os.path.join(d, "evshare.timer"))
        # Documentation=man:... is checked with man(1): the pages, as installed
        for page, sec in (("evshare.1", "man1"), ("evshare.json.5", "man5")):
            os.makedirs(os.path.join(d, "man", sec), exist_ok=True)
            shutil.copy(os.path.join(ROOT, "man", page), os.path.join(d, "man", sec, page))
        opts = [] if shutil.which("man") else ["--man=no"]
        p = subprocess.run([sa, "verify"] + opts + [os.path.join(d, "evshare.service"),
                            os.path.join(d, "evshare.timer")], capture_output=True, timeout=120,
                           env=dict(os.environ, MANPATH=os.path.join(d, "man")))
        msgs = [l for l in p.stderr.decode().splitlines() if "evshare" in l]
        assert p.returncode == 0 and not msgs, "systemd-analyze verify: %s" % p.stderr.decode()
    finally:
        shutil.rmtree(d)


@test
def test_example_kubernetes_cronjob():
    path = os.path.join(EXAMPLES, "kubernetes-cronjob.yaml")
    try:
        import yaml
    except ImportError:
        yaml = None
    if yaml is None:
        raise AssertionError("python3-yaml is missing: scripts/install-deps installs it")
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = {d["kind"]: d for d in docs}
    for k in ("ConfigMap", "PersistentVolumeClaim", "CronJob"):
        assert k in kinds, "no %s in %s" % (k, path)
    cj = kinds["CronJob"]
    eq(cj["apiVersion"], "batch/v1", "CronJob apiVersion")
    spec = cj["spec"]
    eq(spec["concurrencyPolicy"], "Forbid", "one run at a time")
    eq(len(spec["schedule"].split()), 5, "schedule fields")
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    eq(pod["restartPolicy"], "Never", "restartPolicy")
    c = pod["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["volumes"]}
    cfg_text = kinds["ConfigMap"]["data"]["evshare.json"]
    cfg = json.loads(cfg_text)
    # the state is a directory evshare makes in the volume (the volume's
    # root is group-writable with fsGroup, which evshare refuses)
    state_mount = os.path.dirname(cfg["state_dir"])
    assert vols[mounts[state_mount]]["persistentVolumeClaim"]["claimName"] == \
        kinds["PersistentVolumeClaim"]["metadata"]["name"], "state on the persistent volume"
    conf_path = c["args"][c["args"].index("-c") + 1]
    eq(vols[mounts[os.path.dirname(conf_path)]]["configMap"]["name"],
       kinds["ConfigMap"]["metadata"]["name"], "config from the ConfigMap")
    d = tempfile.mkdtemp(prefix="evshare-k8s-")
    try:
        with open(os.path.join(d, os.path.basename(conf_path)), "w") as f:
            f.write(cfg_text)
        p = subprocess.run([BIN, "-c", os.path.join(d, os.path.basename(conf_path)), "check"],
                           capture_output=True, env=env_with(), timeout=60)
        assert p.returncode == 0, p.stderr.decode()
    finally:
        shutil.rmtree(d)


@test
def test_example_ci_replay():
    run = os.path.join(EXAMPLES, "ci-replay", "run.sh")
    assert os.access(run, os.X_OK), "run.sh is executable"
    before = sorted(os.listdir(os.path.join(EXAMPLES, "ci-replay")))
    p = subprocess.run([run], capture_output=True, env=env_with(EVSHARE=BIN), timeout=120)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
    assert b"ci-replay: ok" in p.stdout, p.stdout
    eq(sorted(os.listdir(os.path.join(EXAMPLES, "ci-replay"))), before, "nothing left behind")
    # a wrong expectation fails
    d = tempfile.mkdtemp(prefix="evshare-ci-")
    try:
        shutil.copytree(os.path.join(EXAMPLES, "ci-replay"), os.path.join(d, "ci"))
        exp = os.path.join(d, "ci", "expected", "TN-partner-ci.ndjson")
        with open(exp, "rb") as f:
            want = f.read().splitlines(True)
        with open(exp, "wb") as f:
            f.writelines(want[1:])
        p = subprocess.run([os.path.join(d, "ci", "run.sh")], capture_output=True,
                           env=env_with(EVSHARE=BIN), timeout=120)
        assert p.returncode != 0 and b"differs" in p.stderr, p.stderr
    finally:
        shutil.rmtree(d)


# --- 6. install --------------------------------------------------------------


@test
def test_make_install_and_uninstall_into_destdir():
    make = shutil.which("make")
    assert make, "make is missing"
    d = tempfile.mkdtemp(prefix="evshare-destdir-")
    try:
        for prefix, dest in (("/opt/evshare", os.path.join(d, "a")), (None, os.path.join(d, "b"))):
            args = [make, "-s", "-C", ROOT, "DESTDIR=" + dest]
            if prefix:
                args.append("PREFIX=" + prefix)
            p = subprocess.run(args + ["install"], capture_output=True, timeout=900)
            assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
            root = dest + (prefix or "/usr/local")
            binp = os.path.join(root, "bin", "evshare")
            eq(stat.S_IMODE(os.stat(binp).st_mode), 0o755, "binary mode")
            v = subprocess.run([binp, "--version"], capture_output=True, env=env_with())
            assert v.returncode == 0 and v.stdout.startswith(b"evshare "), v
            for man in ("man1/evshare.1", "man5/evshare.json.5"):
                mp = os.path.join(root, "share", "man", man)
                eq(stat.S_IMODE(os.stat(mp).st_mode), 0o644, man + " mode")
                with open(mp, "rb") as f, open(os.path.join(ROOT, "man", os.path.basename(man)),
                                               "rb") as g:
                    eq(f.read(), g.read(), man)
            ex = os.path.join(root, "share", "doc", "evshare", "examples")
            for rel in ("crontab", "evshare.service", "evshare.timer", "kubernetes-cronjob.yaml",
                        "aws.json", "s3-compatible.json", "gcs.json", "README.md",
                        "ci-replay/run.sh", "ci-replay/ci.json", "demo/evshare.json"):
                fp = os.path.join(ex, rel)
                want = 0o755 if rel.endswith(".sh") else 0o644
                eq(stat.S_IMODE(os.stat(fp).st_mode), want, rel + " mode")
            # the installed CI replay runs from where it was installed
            p = subprocess.run([os.path.join(ex, "ci-replay", "run.sh")], capture_output=True,
                               env=env_with(EVSHARE=binp), timeout=120)
            assert p.returncode == 0, p.stderr.decode()
            assert os.path.exists(os.path.join(root, "share", "doc", "evshare", "README.md"))
            # nothing outside PREFIX
            for top in os.listdir(dest):
                eq("/" + top, "/" + (prefix or "/usr/local").strip("/").split("/")[0], "top dir")
            p = subprocess.run(args + ["uninstall"], capture_output=True, timeout=120)
            assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()
            left = [os.path.join(dp, fn) for dp, _, fns in os.walk(dest) for fn in fns]
            eq(left, [], "files left after uninstall")
            assert not os.path.exists(os.path.join(root, "share", "doc", "evshare")), \
                "the doc directory is removed"
    finally:
        shutil.rmtree(d)


# --- 7. poisoned files -------------------------------------------------------


def file_url(sc, org, key):
    return "file://" + os.path.realpath(sc.path(dict(sc.sources)[org], key))


def state_json(sc, *args):
    return json.loads(sc.run("state", "show", "--json", *args, check=0).stdout)


def listed_urls(sc):
    p = sc.run("list", "--json", check=0)
    return [(r["url"], r["subscribers"]) for r in map(json.loads, p.stdout.splitlines())]


def truncated_gz(ids, org):
    full = gz(lines(*[event(i, org) for i in ids]))
    return full, full[:len(full) // 2]


@test
def test_poisoned_file_metrics_state_and_forget_poisoned():
    """A truncated gzip file with max_attempts 2: failed once (exit 1, not
    poisoned), poisoned by the second run (exit 1; summary, metrics, state
    show and list agree), then skipped (exit 0, still counted as poisoned);
    'state forget --poisoned' makes it eligible again (read, fails, counted
    from 1 again), and once the producer fixes it it is processed once:
    every line of both files exactly once."""
    sc = Scenario("poison")
    try:
        sc.direct(A)
        good_ids = ["good-%02d" % i for i in range(5)]
        bad_ids = ["bad-%02d" % i for i in range(40)]
        sc.add_file(A, "2026/11/27/good.ndjson.gz", gz(lines(*[event(i, A) for i in good_ids])))
        bad_key = "2026/11/27/bad.ndjson.gz"
        full, cut = truncated_gz(bad_ids, A)
        bad_path = sc.add_file(A, bad_key, cut)
        bad = file_url(sc, A, bad_key)
        sc.additional(X, [A])
        sc.extra["max_attempts"] = 2
        sc.write_config()
        mpath = sc.path("evshare.prom")

        def run(check):
            p = sc.run("run", "--json", "--metrics-file", mpath, check=check)
            s = json.loads(p.stdout)
            vals = read_metrics(mpath)
            eq(one(vals, "evshare_last_run_exit_status"), check, "metrics: exit status")
            eq(one(vals, "evshare_last_run_poisoned_files"), s["files"]["poisoned"],
               "metrics: poisoned files = the summary's")
            eq(one(vals, "evshare_last_run_files", outcome="failed"), s["files"]["failed"],
               "metrics: failed files = the summary's")
            return s, vals, p.stderr.decode()

        # run 1: the file fails, it is not poisoned yet
        s, vals, err = run(1)
        eq(s["status"], "partial", "status of run 1")
        eq((s["files"]["processed"], s["files"]["failed"], s["files"]["poisoned"]), (1, 1, 0),
           "run 1: processed, failed, poisoned")
        eq([f["url"] for f in s["failed_files"]], [bad], "run 1: failed files")
        assert "truncated" in s["failed_files"][0]["reason"], s["failed_files"]
        eq(s["poisoned_files"], [], "run 1: nothing poisoned")
        eq(one(vals, "evshare_last_run_poisoned_files"), 0, "run 1: poisoned metric")
        st = state_json(sc)["sources"][0]
        eq((st["failing"], st["poisoned"]), (1, 0), "run 1: state failing, poisoned")
        eq([(r["url"], r["failures"], r["poisoned"]) for r in st["problems"]],
           [(bad, 1, False)], "run 1: state problems")
        eq(listed_urls(sc), [(bad, [X])], "run 1: list shows the failed file (retried)")

        # run 2: fails again and is poisoned (max_attempts 2)
        objects_before = sc.snapshot()
        s, vals, err = run(1)
        eq(s["status"], "partial", "status of the poisoning run")
        eq((s["files"]["planned"], s["files"]["failed"], s["files"]["poisoned"]), (1, 1, 1),
           "run 2: planned, failed, poisoned")
        eq([f["url"] for f in s["failed_files"]], [bad], "run 2: failed files")
        eq([f["url"] for f in s["poisoned_files"]], [bad], "run 2: poisoned files")
        eq(s["poisoned_files"][0]["reason"], s["failed_files"][0]["reason"], "poisoned reason")
        eq(one(vals, "evshare_last_run_poisoned_files"), 1, "run 2: poisoned metric")
        eq(one(vals, "evshare_last_run_status", status="partial"), 1, "run 2: partial")
        assert "is now poisoned" in err and "'evshare state forget %s'" % bad in err, err
        eq(sc.snapshot(), objects_before, "run 2 put nothing")
        st = state_json(sc)["sources"][0]
        eq((st["files"], st["failing"], st["poisoned"]), (2, 0, 1),
           "run 2: state records, failing, poisoned")
        eq([(r["url"], r["failures"], r["poisoned"], r["done"]) for r in st["problems"]],
           [(bad, 2, True, [])], "run 2: state problems")
        assert "truncated" in st["problems"][0]["last_error"], st["problems"]
        text = sc.run("state", "show", check=0).stdout.decode()
        assert re.search(r"^source %s: 2 file record\(s\), 0 failing, 1 poisoned, horizon \S+$"
                         % A, text, re.M), text
        assert re.search(r"^  %s  POISONED  truncated" % re.escape(bad), text, re.M), text
        lp = sc.run("list", check=0)
        eq(lp.stdout, b"", "list: a poisoned file is not read")
        assert "1 poisoned file(s) under" in lp.stderr.decode(), lp.stderr

        # runs 3 and 4: skipped, exit 0, still reported
        s, vals, err = run(0)
        eq(s["status"], "ok", "a run that only skips a poisoned file")
        eq((s["files"]["planned"], s["files"]["failed"], s["files"]["poisoned"]), (0, 0, 1),
           "run 3: planned, failed, poisoned")
        eq([f["url"] for f in s["poisoned_files"]], [bad], "run 3: poisoned files")
        eq(s["failed_files"], [], "run 3: failed files")
        eq(one(vals, "evshare_last_run_poisoned_files"), 1, "run 3: poisoned metric")
        eq(one(vals, "evshare_last_success_timestamp_seconds"),
           one(vals, "evshare_last_run_end_timestamp_seconds"), "run 3 is a success")
        assert "1 poisoned file(s) under 'file://" in err and "skipped" in err, err
        p = sc.run("run", check=0)
        out = p.stdout.decode()
        assert "0 failed, 1 poisoned" in out, out
        assert "  poisoned: %s: truncated" % bad in out, out
        eq(sc.snapshot(), objects_before, "runs 3 and 4 put nothing")

        # state forget: the lock, a URL not in the state, then --poisoned
        with open(sc.path("state", "state.json"), "rb") as f:
            state_before = f.read()
        with open(sc.path("state", "lock"), "w") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            sc.run("state", "forget", "--poisoned", check=75)
        p = sc.run("state", "forget", bad + ".nope", check=64)
        assert "not a file in the state" in p.stderr.decode(), p.stderr
        with open(sc.path("state", "state.json"), "rb") as f:
            eq(f.read(), state_before, "state.json after forgets that did nothing")
        sc.run("state", "forget", "--poisoned", check=0)
        st = state_json(sc)["sources"][0]
        eq((st["files"], st["failing"], st["poisoned"], st["problems"]), (2, 0, 0, []),
           "state after forget --poisoned")
        rec = [r for r in state_json(sc, "--files")["sources"][0]["records"] if r["url"] == bad]
        eq([(r["failures"], r["poisoned"], r["done"]) for r in rec], [(0, False, [])],
           "the forgotten record")
        eq(listed_urls(sc), [(bad, [X])], "list after forget --poisoned")
        with open(sc.path("state", "state.json"), "rb") as f:
            state_before = f.read()
        sc.run("state", "forget", "--poisoned", check=0)
        with open(sc.path("state", "state.json"), "rb") as f:
            eq(f.read(), state_before, "nothing poisoned: forget --poisoned changes nothing")

        # run 5: eligible again, still broken: one failure, not poisoned
        s, vals, err = run(1)
        eq((s["files"]["planned"], s["files"]["failed"], s["files"]["poisoned"]), (1, 1, 0),
           "after forget: planned, failed, poisoned")
        eq([f["url"] for f in s["failed_files"]], [bad], "after forget: failed files")
        eq(s["poisoned_files"], [], "after forget: the attempts count from 1 again")
        eq(one(vals, "evshare_last_run_poisoned_files"), 0, "after forget: poisoned metric")
        st = state_json(sc)["sources"][0]
        eq([(r["url"], r["failures"], r["poisoned"]) for r in st["problems"]],
           [(bad, 1, False)], "after forget: state problems")
        eq(sc.snapshot(), objects_before, "run 5 put nothing")

        # the producer fixes the file: processed once, then nothing is owed
        with open(bad_path, "wb") as f:
            f.write(full)
        s, vals, err = run(0)
        eq((s["files"]["planned"], s["files"]["processed"], s["files"]["failed"],
            s["files"]["poisoned"]), (1, 1, 0, 0), "fixed: planned, processed, failed, poisoned")
        eq((s["events"]["read"], s["events"]["written"]), (40, 40), "fixed: events")
        eq((s["failed_files"], s["poisoned_files"]), ([], []), "fixed: no problems")
        eq(one(vals, "evshare_last_run_poisoned_files"), 0, "fixed: poisoned metric")
        ids = [json.loads(l)["event_id"] for l in sc.output_lines(X)]
        eq(sorted(ids), sorted(good_ids + bad_ids), "every line of both files")
        eq(len(ids), len(set(ids)), "no line twice")
        eq(sc.quarantine(), [], "a corrupt file quarantines nothing")
        st = state_json(sc, "--files")["sources"][0]
        eq((st["failing"], st["poisoned"]), (0, 0), "fixed: state failing, poisoned")
        eq(sorted((r["url"], r["done"], r["failures"]) for r in st["records"]),
           sorted([(bad, [X], 0), (file_url(sc, A, "2026/11/27/good.ndjson.gz"), [X], 0)]),
           "fixed: records")
        after = sc.snapshot()
        s, vals, err = run(0)
        eq((s["files"]["planned"], s["files"]["poisoned"]), (0, 0), "then nothing is owed")
        eq(sc.snapshot(), after, "and nothing is put")
    finally:
        sc.cleanup()


@test
def test_forgotten_file_older_than_the_horizon_that_fails_again_stays_pending():
    """evshare(1): a forgotten poisoned file is read again 'even when it is
    older than the horizon by then'; a file that fails 'stays pending and is
    retried by the next run' (the run's own warning says so), and is
    poisoned again after max_attempts.  So a re-enabled file older than
    the horizon that is still broken must keep its record (failing 1) and
    be retried, not be pruned with the horizon and dropped."""
    sc = Scenario("poison-horizon")
    try:
        sc.direct(A)
        bad_key = "bad.ndjson.gz"
        bad_ids = ["hz-%02d" % i for i in range(40)]
        full, cut = truncated_gz(bad_ids, A)
        bad_path = sc.add_file(A, bad_key, cut, age_s=55)   # inside the 1 min lookback
        bad_mtime = os.stat(bad_path).st_mtime
        bad = file_url(sc, A, bad_key)
        sc.additional(X, [A])
        sc.extra["lookback"] = "1m"
        sc.extra["max_attempts"] = 2
        sc.write_config()
        sc.run("run", check=1)
        sc.run("run", check=1)
        eq(state_json(sc)["sources"][0]["poisoned"], 1, "poisoned")
        # another file and a run a minute later: the horizon passes the poisoned one
        time.sleep(max(0.0, bad_mtime + 62 - time.time()))
        sc.add_file(A, "later.ndjson.gz", gz(lines(event("later", A))), age_s=1)
        sc.run("run", check=0)
        st = state_json(sc)["sources"][0]
        assert st["horizon"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(bad_mtime + 1)), \
            (st["horizon"], bad_mtime)
        eq([(r["url"], r["poisoned"]) for r in st["problems"]], [(bad, True)],
           "a poisoned record older than the horizon is kept")
        sc.run("state", "forget", "--poisoned", check=0)
        eq(listed_urls(sc), [(bad, [X])], "forgotten: listed although older than the horizon")
        s = sc.run_json(check=1)
        eq([f["url"] for f in s["failed_files"]], [bad], "read again, failed again")
        eq(s["poisoned_files"], [], "not poisoned after one failure")
        st = state_json(sc)["sources"][0]
        eq([(r["url"], r["failures"], r["poisoned"]) for r in st["problems"]],
           [(bad, 1, False)], "the failed file is still in the state, failing")
        eq(listed_urls(sc), [(bad, [X])], "and the next run retries it")
        s = sc.run_json(check=1)
        eq([f["url"] for f in s["poisoned_files"]], [bad], "poisoned again after max_attempts")
        # the producer replaces it (a new last-modified time): read once
        with open(bad_path, "wb") as f:
            f.write(full)
        s = sc.run_json(check=0)
        eq((s["files"]["processed"], s["files"]["failed"]), (1, 0), "repaired: processed")
        ids = [json.loads(l)["event_id"] for l in sc.output_lines(X)]
        eq(sorted(ids), sorted(bad_ids + ["later"]), "every line exactly once")
    finally:
        sc.cleanup()


if __name__ == "__main__":
    main()
