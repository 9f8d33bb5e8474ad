#!/usr/bin/env python3
"""evshare against a hostile or broken store (hostile.py): each attack is
bounded in time, disk and memory, and fails only its own file or source,
while a well-behaved file:// source in the same config is delivered in the
same run; no secret and no signature reaches a log line, the run summary
or the state, whatever the server echoes.

  endless body      a GET whose body goes on past the listed size (with no
                    Content-Length, or announcing 10 GiB)
  drip              a byte a second (cut by the speed floor), or a steady
                    trickle above it (cut by object_timeout)
  endless listing   a fresh continuation token every page, with or without
                    keys (max_list_pages, max_list_keys)
  run_timeout       a run whose deadline passes during a trickle
  echoed secrets    403 replies echoing the request's query and headers,
                    az:// with a SAS token and s3:// with a session token

Standard library only: Debian's python3 runs it.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Scenario, event, gz, lines, eq, test, run_tests, Skip, TESTS, BIN, ROOT  # noqa: E402
from hostile import Hostile, Bucket, Obj  # noqa: E402

H, H2, F, X = "TN-hostile-0001", "TN-hostile-0002", "TN-files-0003", "TN-partner-x"
MIB = 1 << 20

AWS_KEY_ID = "AKIDHOSTILETEST01"
AWS_SECRET = "hostile/secret+key=0123456789abcdef"
AWS_TOKEN = "FwoGZXIvYXdzHostileSessionToken//value+0123456789="
SAS_SIG = "H0stileS1gnature%2Bvalue%3D"
SAS = "sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2030-01-01T00%3A00%3A00Z&sig=" + SAS_SIG

_server = []


def server():
    """The suite's hostile server (started on first use)."""
    if not _server:
        _server.append(Hostile().start())
    return _server[0]


def stop_server():
    for s in _server:
        s.stop()
    _server.clear()


_seq = [0]


def bucket_name(stem):
    _seq[0] += 1
    return "%s-%d" % (stem, _seq[0])


def hostile_events(n=20):
    return [event("h-%04d" % i, H) for i in range(n)]


def scenario(name, hostile_sources, extra=None):
    """A file:// source F with one good file, the hostile sources before
    it (org, location) and partner X linked to them all."""
    sc = Scenario(name)
    sc.direct(F)
    good = [event("f-%04d" % i, F) for i in range(5)]
    sc.add_file(F, "2026/12/05/f-0001.ndjson.gz", gz(lines(*good)))
    orgs = [o for o, _ in hostile_sources] + [F]
    sc.additional(X, orgs)
    cfg = sc.config()
    cfg["direct_subscribers"] = [{"org_id": o, "source": loc} for o, loc in hostile_sources] + \
        cfg["direct_subscribers"]
    cfg.update(extra or {})
    sc.write_config(cfg)
    return sc, good


def s3_source(bucket, **kw):
    loc = {"url": "s3://%s/p/" % bucket, "endpoint": server().endpoint}
    loc.update(kw)
    return loc


def base_env(**kw):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("AWS_", "AZURE_", "EVSHARE_"))}
    e.update({"AWS_ACCESS_KEY_ID": AWS_KEY_ID, "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
              "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
              "AWS_CONFIG_FILE": "/nonexistent/config", "AWS_REGION": "us-east-1"})
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    e.update(kw)
    return e


class Result:
    pass


def spool_sizes(pid):
    """Sizes of the spool copies (.object-XXXXXX, unlinked) pid has open."""
    sizes = []
    fd_dir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return sizes
    for fd in fds:
        p = os.path.join(fd_dir, fd)
        try:
            if "/.object-" in os.readlink(p):
                sizes.append(os.stat(p).st_size)
        except OSError:
            pass
    return sizes


def run(sc, *args, env=None, timeout=120):
    """Run evshare; the exit status, output, wall time, peak RSS (its
    own, from wait4) and the largest spool copy seen while it ran."""
    cmd = [BIN, "-c", sc.path("evshare.json")] + list(args)
    r = Result()
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env or base_env())
        box = {}
        reaper = threading.Thread(target=lambda: box.setdefault("r", os.wait4(p.pid, 0)))
        reaper.start()
        r.spool_max = 0
        r.timed_out = False
        while reaper.is_alive():
            r.spool_max = max([r.spool_max] + spool_sizes(p.pid))
            reaper.join(0.02)
            if reaper.is_alive() and time.monotonic() - t0 > timeout:
                r.timed_out = True
                p.kill()
                reaper.join()
        r.wall = time.monotonic() - t0
        _, status, usage = box["r"]
        p.returncode = r.rc = os.waitstatus_to_exitcode(status)
        r.maxrss_mib = usage.ru_maxrss / 1024.0
        fo.seek(0)
        fe.seek(0)
        r.out, r.err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
    if r.timed_out:
        raise AssertionError("evshare %s did not end within %d s; stderr:\n%s"
                             % (" ".join(args), timeout, r.err[-3000:]))
    return r


def summary(r):
    try:
        return json.loads(r.out)
    except ValueError:
        raise AssertionError("no JSON summary (exit %d)\nstdout:\n%s\nstderr:\n%s"
                             % (r.rc, r.out, r.err))


def delivered(sc, good, r):
    eq(sc.output_lines(X), good, "the file:// source's lines delivered in the same run "
       "(stderr:\n%s)" % r.err)


def failed_reasons(s):
    return {f["url"].rsplit("/", 1)[1]: f["reason"] for f in s.get("failed_files", [])}


# --- an endless body -------------------------------------------------------

@test
def test_endless_body_fails_its_file_promptly():
    member = gz(lines(*hostile_events()))
    name = bucket_name("endless")
    server().add(Bucket(name, prefix="p/", objects={
        "p/endless.ndjson.gz": Obj(member, get="endless"),
        "p/announced.ndjson.gz": Obj(member, get="announce")}))
    sc, good = scenario("endless", [(H, s3_source(name))])
    try:
        r = run(sc, "run", "--json", timeout=60)
        s = summary(r)
        eq(r.rc, 1, "exit status (some files failed) (stderr:\n%s)" % r.err)
        reasons = failed_reasons(s)
        assert "went past the listed size (%d bytes)" % len(member) in \
            reasons.get("endless.ndjson.gz", ""), reasons
        assert "announces 10737418240 bytes, more than the listed size (%d bytes)" \
            % len(member) in reasons.get("announced.ndjson.gz", ""), reasons
        delivered(sc, good, r)
        # bounded: a few buffers of the endless body, not a disk's worth
        sent = server().sent["/%s/p/endless.ndjson.gz" % name]
        assert sent < 16 * MIB, "the server sent %d bytes of the endless body" % sent
        assert r.spool_max <= len(member), "spool copy grew to %d bytes" % r.spool_max
        assert r.wall < 30, "took %.1f s" % r.wall
    finally:
        sc.cleanup()


# --- drips ------------------------------------------------------------------

@test
def test_drip_is_cut_by_the_speed_floor():
    """A byte a second never stopped the old stall detector; now fewer
    than 1 KiB in a stall window (2 s here) is a stall."""
    name = bucket_name("drip")
    member = gz(lines(*hostile_events()))
    server().add(Bucket(name, prefix="p/", objects={
        "p/drip.ndjson.gz": Obj(member, get="drip", drip_bytes=1, drip_interval=1.0)}))
    sc, good = scenario("drip", [(H, s3_source(name, retries=1))],
                        {"object_timeout": "30m"})
    try:
        r = run(sc, "run", "--json", env=base_env(EVSHARE_STALL_TIMEOUT="2"), timeout=60)
        s = summary(r)
        eq(r.rc, 1, "exit status (stderr:\n%s)" % r.err)
        reason = failed_reasons(s).get("drip.ndjson.gz", "")
        assert re.search(r"stalled transfer \(only \d+ bytes moved in 2 s, fewer than 1024 "
                         r"\(stalled transfer\)\); gave up after 1 attempts", reason), reason
        delivered(sc, good, r)
        assert r.wall < 15, "took %.1f s" % r.wall
    finally:
        sc.cleanup()


@test
def test_trickle_is_cut_by_the_object_deadline():
    """Above the floor (5 KiB/s against 1 KiB/s), with an object far too
    large to end: object_timeout (10 s) cuts it, retries included."""
    name = bucket_name("trickle")
    server().add(Bucket(name, prefix="p/", objects={
        "p/trickle.ndjson.gz": Obj(gz(lines(*hostile_events())), get="drip",
                                   listed_size=GIB_100, drip_bytes=512, drip_interval=0.1)}))
    sc, good = scenario("trickle", [(H, s3_source(name))], {"object_timeout": "10s"})
    try:
        r = run(sc, "run", "--json", env=base_env(EVSHARE_STALL_TIMEOUT="1"), timeout=90)
        s = summary(r)
        eq(r.rc, 1, "exit status (stderr:\n%s)" % r.err)
        reason = failed_reasons(s).get("trickle.ndjson.gz", "")
        assert "object deadline reached: more than 10 s for one request with its retries " \
               "(object_timeout)" in reason, reason
        delivered(sc, good, r)
        assert 9 < r.wall < 30, "took %.1f s" % r.wall
        sent = server().sent["/%s/p/trickle.ndjson.gz" % name]
        assert sent < 100 * 1024, "sent %d bytes" % sent
    finally:
        sc.cleanup()


GIB_100 = 100 << 30


@test
def test_run_timeout_leaves_files_not_begun_to_the_next_run():
    """run_timeout (2 s) passes during a trickle that object_timeout (8 s)
    ends: no file is begun after run_timeout (the next file of the hostile
    source and the file:// source wait for the next run, not failed), the
    run ends within run_timeout + object_timeout, and the next run, with
    time enough, reads what waited."""
    name = bucket_name("deadline")
    later = [event("later-%d" % i, H) for i in range(3)]
    server().add(Bucket(name, prefix="p/", objects={
        "p/a-trickle.ndjson.gz": Obj(gz(lines(*hostile_events())), get="drip",
                                     listed_size=GIB_100, drip_bytes=512, drip_interval=0.1),
        "p/b-later.ndjson.gz": Obj(gz(lines(*later)))}))
    sc, good = scenario("deadline", [(H, s3_source(name))],
                        {"object_timeout": "8s", "run_timeout": "2s"})
    try:
        r = run(sc, "run", "--json", env=base_env(EVSHARE_STALL_TIMEOUT="5"), timeout=60)
        s = summary(r)
        eq(r.rc, 1, "exit status (stderr:\n%s)" % r.err)
        assert 7 < r.wall < 2 + 8 + 5, "took %.1f s" % r.wall
        assert "object deadline reached" in failed_reasons(s).get("a-trickle.ndjson.gz", ""), s
        eq(s["files"]["deferred"], 2, "files not begun")
        eq(s["files"]["processed"], 0, "processed")
        assert "wait for the next run: run_timeout passed" in r.err, r.err
        eq(sc.output_lines(X), [], "nothing yet")
        cfg = json.load(open(sc.path("evshare.json")))
        cfg["run_timeout"] = "10m"
        sc.write_config(cfg)
        r = run(sc, "run", "--json", env=base_env(EVSHARE_STALL_TIMEOUT="5"), timeout=60)
        s = summary(r)
        eq(r.rc, 1, "the trickle fails again (stderr:\n%s)" % r.err)
        eq(s["files"]["processed"], 2, "what waited is read")
        eq(sc.output_lines(X), later + good, "delivered once")
    finally:
        sc.cleanup()


# --- endless listings ---------------------------------------------------------

@test
def test_endless_listing_without_keys_stops_at_max_list_pages():
    name = bucket_name("pages")
    server().add(Bucket(name, prefix="p/", list="endless", keys_per_page=0))
    sc, good = scenario("pages", [(H, s3_source(name))], {"max_list_pages": 10})
    try:
        r = run(sc, "run", "--json", timeout=60)
        s = summary(r)
        eq(r.rc, 1, "exit status (stderr:\n%s)" % r.err)
        eq([f["reason"] for f in s["failed_sources"]],
           ["'s3://%s/p/': the listing passed 10 pages (max_list_pages); raise max_list_pages "
            "or narrow the prefix" % name], "failed sources")
        eq(server().pages[name], 10, "pages asked for")
        delivered(sc, good, r)
    finally:
        sc.cleanup()


@test
def test_endless_listing_with_keys_stops_at_max_list_keys():
    """1000 fresh keys and a fresh token on every page: memory stays that
    of max_list_keys (the old code grew to 4.3 GB in 25 s)."""
    name, name2 = bucket_name("keys"), bucket_name("keys-az")
    server().add(Bucket(name, prefix="p/", list="endless", keys_per_page=1000))
    server().add(Bucket("acct/" + name2, kind="az", prefix="p/", list="endless",
                        keys_per_page=1000))
    az = {"url": "az://acct/%s/p/" % name2, "endpoint": server().endpoint + "/acct"}
    sc, good = scenario("keys", [(H, s3_source(name)), (H2, az)], {"max_list_keys": 20000})
    try:
        r = run(sc, "run", "--json", env=base_env(AZURE_STORAGE_SAS_TOKEN=SAS), timeout=60)
        s = summary(r)
        eq(r.rc, 1, "exit status (stderr:\n%s)" % r.err)
        eq(sorted(f["reason"] for f in s["failed_sources"]),
           sorted("'%s': the listing passed 20000 objects (max_list_keys); raise "
                  "max_list_keys or narrow the prefix" % u
                  for u in ("s3://%s/p/" % name, "az://acct/%s/p/" % name2)), "failed sources")
        eq(server().pages[name], 21, "pages asked for (s3)")
        eq(server().pages["acct/" + name2], 21, "pages asked for (az)")
        delivered(sc, good, r)
        assert r.maxrss_mib < 256, "peak RSS %.0f MiB" % r.maxrss_mib
        print("     peak RSS %.0f MiB, %.1f s" % (r.maxrss_mib, r.wall))
    finally:
        sc.cleanup()


# --- secrets echoed by the server ---------------------------------------------

def check_no_secret(texts, secrets, what):
    for name, text in texts.items():
        for sec in secrets:
            assert sec not in text, "%s: %s holds %r:\n%s" % (what, name, sec, text[:4000])


def outputs(sc, r):
    state = sc.path("state", "state.json")
    texts = {"stderr": r.err, "stdout (summary)": r.out}
    if os.path.exists(state):
        with open(state, encoding="utf-8") as f:
            texts["state.json"] = f.read()
    return texts


@test
def test_echoed_sas_is_redacted():
    """az://: the listing of one container and the GET of a blob of
    another answer 403 with the request line (SAS included) and headers."""
    good_c, bad_c = bucket_name("sas-get"), bucket_name("sas-list")
    member = gz(lines(*hostile_events()))
    server().add(Bucket("acct/" + good_c, kind="az", prefix="p/", objects={
        "p/blob.ndjson.gz": Obj(member, get="echo")}))
    server().add(Bucket("acct/" + bad_c, kind="az", prefix="p/", list="echo"))
    ep = server().endpoint + "/acct"
    sc, good = scenario("sas", [(H, {"url": "az://acct/%s/p/" % good_c, "endpoint": ep}),
                                (H2, {"url": "az://acct/%s/p/" % bad_c, "endpoint": ep})])
    secrets = [SAS_SIG, "H0stileS1gnature+value=", "H0stileS1gnature", SAS]
    try:
        for fmt in ("text", "json"):
            r = run(sc, "--log-format", fmt, "run", "--json",
                    env=base_env(AZURE_STORAGE_SAS_TOKEN="?" + SAS), timeout=60)
            s = summary(r)
            texts = outputs(sc, r)
            assert "state.json" in texts, "the run committed no state (stderr:\n%s)" % r.err
            check_no_secret(texts, secrets, "log format " + fmt)
            # the echo did reach the messages (the SAS after the listing's
            # query), redacted
            assert "comp=list&prefix=p%2F&maxresults=5000&***" in r.err, r.err
            reason = failed_reasons(s).get("blob.ndjson.gz", "")
            assert "403 AuthenticationFailed" in reason and "blob.ndjson.gz?***" in reason, \
                reason
            assert "blob.ndjson.gz?***" in texts["state.json"], texts["state.json"]
            eq(len(s["failed_sources"]), 1, "the echoing listing failed its source")
            if fmt == "text":
                delivered(sc, good, r)
    finally:
        sc.cleanup()


@test
def test_echoed_session_token_and_signature_are_redacted():
    """s3://: 403 replies echo Authorization (its Signature) and
    x-amz-security-token; AWS_SESSION_TOKEN is set."""
    good_b, bad_b = bucket_name("tok-get"), bucket_name("tok-list")
    member = gz(lines(*hostile_events()))
    # each message is cut at 320 bytes: one echoes the signature first,
    # the other the token
    server().add(Bucket(good_b, prefix="p/", objects={
        "p/obj.ndjson.gz": Obj(member, get="echo", echo_first=("authorization",))}))
    server().add(Bucket(bad_b, prefix="p/", list="echo", echo_first=("x-amz-security-token",)))
    sc, good = scenario("token", [(H, s3_source(good_b)), (H2, s3_source(bad_b))])
    try:
        for fmt in ("text", "json"):
            before = len(server().requests)
            r = run(sc, "--log-format", fmt, "run", "--json",
                    env=base_env(AWS_SESSION_TOKEN=AWS_TOKEN), timeout=60)
            s = summary(r)
            sigs = set()
            for _, path, headers in server().requests[before:]:
                m = re.search(r"Signature=([0-9a-f]{64})", headers.get("Authorization", ""))
                if m and (good_b in path or bad_b in path):
                    sigs.add(m.group(1))
            assert sigs, "no signed request reached the server"
            texts = outputs(sc, r)
            assert "state.json" in texts, "the run committed no state (stderr:\n%s)" % r.err
            check_no_secret(texts, [AWS_TOKEN, AWS_SECRET, "HostileSessionToken"] + sorted(sigs),
                            "log format " + fmt)
            assert "Signature=***" in r.err, r.err
            assert re.search(r"(?i)x-amz-security-token: \*\*\*", r.err), r.err
            # (the summary's reason is cut before the signature)
            reason = failed_reasons(s).get("obj.ndjson.gz", "")
            assert "403 AccessDenied: Access Denied for Authorization:" in reason, reason
            eq(len(s["failed_sources"]), 1, "the echoing listing failed its source")
            if fmt == "text":
                delivered(sc, good, r)
    finally:
        sc.cleanup()


if __name__ == "__main__":
    run_tests(TESTS, cleanup=[stop_server], width=58)
