#!/usr/bin/env python3
"""Integration tests of evshare's s3:// (and gs://) backend against the
signature-checking peer (tests/peer): the core scenario of test_core.py with
every location on S3 (compared with the reference model and with a file://
run of the same fixtures), pagination, odd keys, multipart uploads,
credentials (wrong secret, session token, profiles), secrets in logs, and
the fault suite (SlowDown, 500, resets, truncated and stalled bodies,
interrupted uploads).

Run with the pyenv Python (boto3, moto); it re-executes itself under it
when needed.  Ends with "N passed, N failed"; exits non-zero on failure.
Prints the connections the core scenario run opened.
"""
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import s3harness  # noqa: E402

s3harness.reexec_with_boto3()

import harness  # noqa: E402
_n_core = len(harness.TESTS)
from test_core import (build_main_scenario, sub_tuples, check_summary,  # noqa: E402
                       check_quarantine, random_events, A, B, C, X, Y, Z)
del harness.TESTS[_n_core:]      # test_core's own tests are not run here
from harness import Scenario, event, gz, lines, eq, BIN  # noqa: E402
import reference  # noqa: E402
from remote import (owed, check_lines, big_events, without_run_id, fault_scenario,  # noqa: E402
                    late_crc_scenario, run_late_crc, check_late_crc_output,
                    retried_fixed_then_idle)
from s3harness import (S3Scenario, peer, new_bucket, upload_many, open_uploads,  # noqa: E402
                       state_committed, read_state, test, main, KEY, TOKEN_KEY, OTHER_KEY,
                       SECRETS, wait_until, wait_in_flight, quiesce)

# evshare must see only what a test gives it
for _v in list(os.environ):
    if _v.startswith("AWS_"):
        del os.environ[_v]
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/evshare-test/credentials"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/evshare-test/config"


def assert_no_secret(p, secrets=SECRETS):
    for stream in (p.stdout, p.stderr):
        for sec in secrets:
            assert sec.encode() not in stream, "a secret is in the output"
        assert b"Signature=" not in stream, "a signature is in the output"
        assert b"Authorization" not in stream, "an Authorization header is in the output"


def no_uploads_left(sc):
    eq(open_uploads(sc.peer, sc.dst_bucket), [], "open multipart uploads")


# --------------------------------------------------------------------------
# the core scenario
# --------------------------------------------------------------------------

@test
def test_core_scenario_on_s3_matches_reference_and_file():
    p = peer()
    base = build_main_scenario(random.Random(1))
    sc = S3Scenario(base, p)
    fsc = None
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc), max_line_bytes=4096)
        assert exp.failed_files and exp.malformed >= 6 and exp.rejected == 1
        # the same fixtures, same listing order, on file://
        fsc = sc.file_copy()
        fs = fsc.run_json(check=1)
        p.reset_stats()
        s = sc.run_json(check=1)
        st = p.stats()
        print("     core scenario on s3://: %d connection(s) opened for %d requests (%s)" % (
            st["connections"], st["requests"],
            ", ".join("%s %d" % kv for kv in sorted(st["methods"].items()))))
        eq(st["rejected"], 0, "requests the peer rejected")
        eq(st["warnings"], [], "peer warnings")
        puts = [r for r in p.requests() if r["method"] == "PUT"]
        assert puts and all(r["content_md5"] for r in puts), "a PUT without Content-MD5"
        # the pipeline and each subscriber's putter talk to the peer at
        # the same time, so each may need a connection of its own
        assert st["connections"] <= 4, "connections are not reused: %d" % st["connections"]
        eq(s["status"], "partial", "status")
        check_summary(s, exp, [X, Y, Z])
        check_lines(sc, exp, [X, Y, Z])
        check_quarantine(sc, exp)
        for sub in (X, Y, Z):
            eq(sc.output_lines(sub), fsc.output_lines(sub), "s3:// and file:// lines of " + sub)
            # byte-identical objects under the same keys but for the run id
            eq(without_run_id(sc.objects(sub)), without_run_id(fsc.objects(sub)),
               "objects of %s, s3:// vs file://" % sub)
        for k in ("files", "events"):
            eq(s[k], fs[k], "summary %s, s3:// vs file://" % k)
        eq([f["url"].endswith("b-truncated.ndjson.gz") for f in s["failed_files"]], [True],
           "failed files")
        assert s["failed_files"][0]["url"].startswith("s3://"), s["failed_files"]
        zobj = sc.objects(Z)
        eq(sorted(set(k.split("/")[0] for k, _ in zobj)), [A, B, C], "Z's objects per source")
        for key, data in zobj:
            orgs = {json.loads(ln)["org_id"] for ln in gzip.decompress(data).splitlines()}
            eq(orgs, {key.split("/")[0]}, "{source} objects hold that source's events")
        for so in s["subscribers"]:
            eq(len(so["objects"]), len(sc.objects(so["org_id"])), "objects listed in summary")
            for url in so["objects"]:
                assert url.startswith("s3://%s/out/" % sc.dst_bucket), url
        retried_fixed_then_idle(sc, exp)
        no_uploads_left(sc)
    finally:
        sc.cleanup()
        if fsc:
            fsc.cleanup()


# --------------------------------------------------------------------------
# listing, keys, multipart
# --------------------------------------------------------------------------

@test
def test_pagination_over_1000_keys():
    p = peer()
    base = Scenario("pages")
    base.direct(A)
    n = 1150
    for i in range(n):
        base.add_file(A, "d%02d/f-%05d.ndjson" % (i % 7, i), lines(event("p%05d" % i, A)))
    base.additional(X, [A])
    sc = S3Scenario(base, p)
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        p.reset_stats()
        s = sc.run_json(check=0)
        eq(s["files"]["listed"], n, "files listed")
        eq(s["files"]["processed"], n, "files processed")
        check_lines(sc, exp, [X])
        lists = [r for r in p.requests() if r["method"] == "GET" and "list-type=2" in r["target"]
                 and "continuation-token=" in r["target"]]
        assert len(lists) >= 1, "no second page was asked for"
        eq(p.stats()["rejected"], 0, "rejected requests")
        s2 = sc.run_json(check=0)
        eq(s2["files"]["planned"], 0, "the next run plans nothing")
    finally:
        sc.cleanup()


ODD_KEYS = ["sp ace/a b.ndjson", "plus+and=equals.ndjson", "per%cent%41%2F.ndjson",
            "amp&er?sand#hash.ndjson", "h\u00e9t\u00e9/\u65e5\u672c\u8a9e \U0001F600.ndjson",
            "tilde~star*(paren)!'quote'.ndjson", "colon:semi;at@dollar$comma,.ndjson",
            "a//double/./dot.ndjson", "brackets[]{}^`|.ndjson"]


@test
def test_odd_keys_and_destination_prefix():
    p = peer()
    base = Scenario("keys")
    base.direct(A)
    evs = []
    for i, k in enumerate(ODD_KEYS):
        e = event("k%02d" % i, A)
        evs.append(e)
        if "//" not in k:          # a directory cannot hold "a//b/./c"
            base.add_file(A, k, lines(e))
    base.additional(X, [A])
    sc = S3Scenario(base, p, dest="out put+x=%y/\u00e9/")
    try:
        # keys a directory cannot hold ("//", "/./") exist only on S3
        sc.upload()
        sc.put_source(A, "a//double/./dot.ndjson", lines(evs[ODD_KEYS.index("a//double/./dot.ndjson")]))
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], len(ODD_KEYS), "files processed")
        check_lines(sc, exp, [X])
        eq(sorted(sc.output_lines(X)), sorted(evs), "every odd key was read")
        eq(p.stats()["warnings"], [], "peer warnings (keys encoded as SigV4 says)")
        for url in s["subscribers"][0]["objects"]:
            assert url.startswith("s3://%s/out put+x=%%y/\u00e9/" % sc.dst_bucket), url
        p.reset_stats()
        s2 = sc.run_json(check=0)
        eq(s2["files"]["planned"], 0, "state keys match listed keys")
    finally:
        sc.cleanup()


@test
def test_multipart_output_above_threshold():
    p = peer()
    base = Scenario("multipart")
    base.direct(A)
    evs = big_events(random.Random(5), A, 5600, "mp")          # ~16.8 MB, ~12.6 MB gzipped
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = S3Scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        p.reset_stats()
        s = sc.run_json(check=0)
        objs = sc.objects(X)
        eq(len(objs), 1, "one object")
        size = len(objs[0][1])
        assert size > 10 << 20, "output only %d bytes" % size
        eq(sc.output_lines(X), evs, "the whole object, in order")
        key = "out/" + objs[0][0]
        head = p.client().head_object(Bucket=sc.dst_bucket, Key=key)
        nparts = (size + (5 << 20) - 1) // (5 << 20)
        assert head["ETag"].strip('"').endswith("-%d" % nparts), head["ETag"]
        eq(head["ContentLength"], size, "object size")
        reqs = p.requests()
        parts = [r for r in reqs if r["method"] == "PUT" and "partNumber=" in r["target"]]
        eq(len(parts), nparts, "UploadPart requests")
        assert all(r["bytes_in"] <= 5 << 20 for r in parts), "a part above part_size"
        bodies = [r for r in reqs if r["bytes_in"]]
        eq(len(bodies), nparts + 1, "requests with a body (the parts, CompleteMultipartUpload)")
        eq([r["content_md5"] for r in bodies], [True] * len(bodies),
           "Content-MD5 on every UploadPart and on CompleteMultipartUpload (the peer checks it)")
        no_uploads_left(sc)
        eq(s["subscribers"][0]["objects"], ["s3://%s/%s" % (sc.dst_bucket, key)], "summary")
        eq(p.stats()["rejected"], 0, "rejected requests")
        # the parts went out on several connections at once (upload_streams,
        # default 4); with one stream, one part at a time
        conns = {r["conn"] for r in parts}
        print("     %d parts on %d connection(s)" % (nparts, len(conns)))
        assert 2 <= len(conns) <= min(nparts, 4) + 1, conns
        base1 = Scenario("multipart1")
        base1.direct(A)
        base1.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
        base1.additional(X, [A], max_object_bytes=1 << 30)
        sc1 = S3Scenario(base1, p)
        sc1.dst_extra = dict(sc.dst_extra, upload_streams=1)
        try:
            sc1.upload()
            p.reset_stats()
            sc1.run_json(check=0)
            parts1 = [r for r in p.requests() if "partNumber=" in r["target"]]
            eq(len(parts1), nparts, "UploadPart requests, one stream")
            # one at a time (the peer's interval of each request begins
            # once its head is read, and ends with the reply)
            spans = sorted((r["t"], r["t"] + r["ms"] / 1000) for r in parts1)
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), \
                "parts overlapped with one stream: %r" % spans
            eq(without_run_id(sc1.objects(X)), without_run_id(objs),
               "the same object with one stream as with several")
        finally:
            sc1.cleanup()
    finally:
        sc.cleanup()


@test
def test_parts_go_out_while_the_file_is_read_and_are_taken_back_if_it_fails():
    """Parts of a growing object are sent while its input is still read
    (nothing visible); when the input's last CRC is wrong they are taken
    back: the upload is aborted, no object appears, the good file's lines
    come out once."""
    p = peer()
    sc, good = late_crc_scenario("mplate", p, S3Scenario)
    try:
        reqs = run_late_crc(sc)
        parts = [q for q in reqs if q["method"] == "PUT" and "partNumber=" in q["target"]]
        aborts = [q for q in reqs if q["method"] == "DELETE" and "uploadId=" in q["target"]]
        completes = [q for q in reqs if q["method"] == "POST" and "uploadId=" in q["target"]]
        print("     %d part(s) sent before the CRC failed, %d upload(s) aborted"
              % (len(parts), len(aborts)))
        assert parts, "no part went out while the file was read"
        assert aborts, "the upload was not aborted"
        eq([q["status"] for q in aborts], [204] * len(aborts), "aborts")
        eq(completes, [], "CompleteMultipartUpload requests")
        no_uploads_left(sc)
        check_late_crc_output(sc, good)
    finally:
        sc.cleanup()


# --------------------------------------------------------------------------
# credentials
# --------------------------------------------------------------------------

def small_scenario(name, p, nfiles=3):
    base = Scenario(name)
    base.direct(A)
    for i in range(nfiles):
        base.add_file(A, "f-%d.ndjson.gz" % i,
                      gz(lines(*[event("%s-%d-%d" % (name, i, j), A) for j in range(20)])))
    base.additional(X, [A])
    sc = S3Scenario(base, p)
    sc.upload()
    return sc, reference.expected(sc.expected_inputs(), sub_tuples(sc))


@test
def test_wrong_secret_fails_cleanly_then_right_secret_does_everything():
    p = peer()
    sc, exp = small_scenario("wrongsecret", p)
    try:
        pr = sc.run("-v", "-v", "run", env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"}, check=77)
        err = pr.stderr.decode()
        assert "SignatureDoesNotMatch" in err, err
        assert "s3://%s/%s/events/" % (sc.src_bucket, A) in err, err
        assert_no_secret(pr, SECRETS + ["not-the-secret"])
        eq(sc.objects(X), [], "nothing uploaded")
        assert not state_committed(sc), "state committed"
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], 3, "the next run reads everything")
        check_lines(sc, exp, [X])
    finally:
        sc.cleanup()


def write_creds(sc, text):
    path = sc.path("aws-credentials")
    with open(path, "w") as f:
        f.write(text)
    return path


class OwnBuckets(S3Scenario):
    """Each subscriber named in bucket_of puts into a bucket of its own."""
    bucket_of = None

    def config(self):
        cfg = S3Scenario.config(self)
        for sub in cfg["additional_subscribers"]:
            b = (self.bucket_of or {}).get(sub["org_id"])
            if b:
                sub["destination"] = self.location("s3://%s/%s" % (b, self.dest_prefix),
                                                   self.dst_extra)
        return cfg


@test
def test_destination_bucket_typo_blocks_no_other_partner():
    """The issue's case: a partner's destination bucket does not exist (404
    NoSuchBucket).  The other partner is delivered in the same run, the
    first one's outputs stay owed (the run is committed), and once the
    config names the right bucket the next run delivers them, each event
    once, under the first run's keys."""
    p = peer()
    base = Scenario("typo")
    base.direct(A)
    for i in range(3):
        base.add_file(A, "f-%d.ndjson.gz" % i,
                      gz(lines(*[event("typo-%d-%d" % (i, j), A) for j in range(20)])))
    base.additional(X, [A])
    base.additional(Y, [A])
    sc = OwnBuckets(base, p)
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        sc.bucket_of = {X: "no-such-bucket-%d" % random.randrange(1 << 30)}
        s = sc.run_json(check=1)
        subs = {x["org_id"]: x for x in s["subscribers"]}
        eq(subs[X]["status"], "failed", "X failed")
        assert "NoSuchBucket" in subs[X]["error"], subs[X]
        eq(subs[Y]["status"], "ok", "Y delivered")
        check_lines(sc, exp, [Y])
        eq(sc.objects(X), [], "nothing of X")
        eq(owed(sc), [X], "X's outputs owed")
        first_run = s["run_id"]
        # the typo is fixed in the config
        sc.bucket_of = {}
        s2 = sc.run_json(check=0)
        eq([x["run_id"] for x in s2["pending_parts"]], [first_run], "the owed outputs")
        check_lines(sc, exp, [X, Y])
        assert all(first_run in k for k, _ in sc.objects(X)), "under the first run's keys"
        eq(owed(sc), [], "nothing owed")
        eq(sc.run_json(check=0)["events"]["written"], 0, "nothing twice")
    finally:
        sc.cleanup()


@test
def test_wrong_destination_secret_keeps_the_outputs_owed_uploads_nothing():
    """Sources readable, the destination's profile has a wrong secret: the
    upload fails with 77 naming the object, no object and no open upload is
    left, the run's outputs stay owed to X; with the secret fixed, the next
    run finishes them (the same keys)."""
    p = peer()
    sc, exp = small_scenario("wrongdest", p)
    try:
        creds = write_creds(sc, "[dst]\naws_access_key_id = %s\naws_secret_access_key = wrong\n"
                            % KEY[0])
        sc.dst_extra = {"profile": "dst"}
        env = {"AWS_SHARED_CREDENTIALS_FILE": creds}
        pr = sc.run("run", env=env, check=77)
        err = pr.stderr.decode()
        assert "cannot write 's3://%s/out/" % sc.dst_bucket in err, err
        assert "SignatureDoesNotMatch" in err and "profile 'dst'" in err, err
        eq(sc.objects(X), [], "nothing uploaded")
        no_uploads_left(sc)
        eq(owed(sc), [X], "its outputs are owed")
        write_creds(sc, "[dst]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % KEY)
        pr = sc.run("run", env=env, check=0)
        assert b"still owed" in pr.stderr, pr.stderr
        eq(owed(sc), [], "delivered")
        check_lines(sc, exp, [X])
        assert state_committed(sc)
    finally:
        sc.cleanup()


@test
def test_refused_credentials_while_finishing_owed_outputs_keep_them_owed():
    """Outputs owed (their upload refused) are finished next run; if the
    sources now refuse our credentials, that is 77 and 'try again next run',
    not 65 'gone or different' with advice to forget them; with the
    credentials fixed the same outputs complete."""
    p = peer()
    sc, exp = small_scenario("resumeauth", p)
    try:
        creds = write_creds(sc, "[dst]\naws_access_key_id = %s\naws_secret_access_key = wrong\n"
                            % KEY[0])
        sc.dst_extra = {"profile": "dst"}
        env = {"AWS_SHARED_CREDENTIALS_FILE": creds}
        sc.run("run", env=env, check=77)
        eq(owed(sc), [X], "owed")
        write_creds(sc, "[dst]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % KEY)
        pr = sc.run("run", env=dict(env, AWS_SECRET_ACCESS_KEY="not-the-secret"), check=77)
        err = pr.stderr.decode()
        assert "cannot finish run" in err, err
        assert "will try again next run" in err, err
        assert "state forget" not in err and "gone or different" not in err, err
        eq(owed(sc), [X], "still owed")
        eq(sc.objects(X), [], "nothing uploaded")
        pr = sc.run("run", env=env, check=0)
        assert b"still owed" in pr.stderr, pr.stderr
        check_lines(sc, exp, [X])
        eq(owed(sc), [], "delivered")
    finally:
        sc.cleanup()


@test
def test_session_token():
    p = peer()
    sc, exp = small_scenario("token", p)
    try:
        env = p.env(1)
        assert env["AWS_SESSION_TOKEN"] == TOKEN_KEY[2]
        sc.env = dict(env, EVSHARE_STALL_TIMEOUT="3")
        pr = sc.run("run", env={"AWS_SESSION_TOKEN": ""}, check=77)
        assert b"InvalidToken" in pr.stderr, pr.stderr
        p.reset_stats()
        pr = sc.run("-v", "-v", "run", check=0)
        assert_no_secret(pr)
        assert b"(with a session token)" in pr.stderr, pr.stderr
        check_lines(sc, exp, [X])
        eq(p.stats()["rejected"], 0, "rejected requests")
    finally:
        sc.cleanup()


@test
def test_profiles_from_credentials_and_config_files():
    """Per-location profiles in AWS_SHARED_CREDENTIALS_FILE (and region in
    AWS_CONFIG_FILE); the AWS_* key variables, set to a wrong key, do not
    override a location's profile."""
    p = peer()
    sc, exp = small_scenario("profiles", p)
    try:
        creds = write_creds(sc, "# test\n[reader]\naws_access_key_id = %s\n"
                            "aws_secret_access_key = %s\n\n[writer]\n"
                            "aws_access_key_id=%s\naws_secret_access_key=%s\n"
                            "aws_session_token=%s\n" % (KEY + TOKEN_KEY))
        conf = sc.path("aws-config")
        with open(conf, "w") as f:
            f.write("[profile reader]\nregion = us-east-1\n[profile writer]\nregion = us-east-1\n")
        sc.env = {"AWS_ENDPOINT_URL": p.endpoint, "AWS_SHARED_CREDENTIALS_FILE": creds,
                  "AWS_CONFIG_FILE": conf, "AWS_ACCESS_KEY_ID": "AKIDWRONG",
                  "AWS_SECRET_ACCESS_KEY": "wrong-secret"}
        sc.src_extra = {"profile": "reader"}
        sc.dst_extra = {"profile": "writer"}
        p.reset_stats()
        pr = sc.run("-v", "-v", "run", check=0)
        assert_no_secret(pr)
        err = pr.stderr.decode()
        assert "credentials from profile 'reader' in '%s'" % creds in err, err
        assert "credentials from profile 'writer'" in err, err
        check_lines(sc, exp, [X])
        eq(p.stats()["rejected"], 0, "rejected requests")
        # AWS_PROFILE picks a profile when the location names none
        sc.src_extra = sc.dst_extra = {}
        env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": "reader"}
        sc.put_source(A, "g.ndjson", lines(event("late", A)))
        s = sc.run_json(check=0, env=env)
        eq(s["files"]["processed"], 1, "AWS_PROFILE run")
        # a missing profile is a configuration error naming it
        pr = sc.run("run", env={"AWS_PROFILE": "nope"}, check=78)
        assert b"profile 'nope' not found" in pr.stderr, pr.stderr
    finally:
        sc.cleanup()


@test
def test_secrets_never_logged_at_any_verbosity():
    p = peer()
    sc, _ = small_scenario("secrets", p)
    try:
        sc.env = dict(p.env(1), EVSHARE_STALL_TIMEOUT="3")
        p.set_faults([{"method": "GET", "path": "/f-1", "times": 1, "action": "slowdown"},
                      {"method": "PUT", "times": 1, "action": {"status": 500}}])
        for args in (["-v", "-v", "run"], ["-v", "-v", "--log-format", "json", "run", "--json"],
                     ["-v", "-v", "list"], ["-v", "-v", "run", "--dry-run"]):
            pr = sc.run(*args, check=None)
            assert pr.returncode == 0, (args, pr.stderr)
            assert_no_secret(pr)
        for env in ({"AWS_SECRET_ACCESS_KEY": "wrong/" + TOKEN_KEY[1]},
                    {"AWS_SESSION_TOKEN": "bad-" + TOKEN_KEY[2]}):
            pr = sc.run("-v", "-v", "run", "--replay", env=env, check=77)
            assert_no_secret(pr, SECRETS + list(env.values()))
    finally:
        p.clear_faults()
        sc.cleanup()


# --------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------

def run_with_faults(name, rules, expect_status=0, env=None):
    p = peer()
    sc, exp = fault_scenario(name, p, S3Scenario)
    try:
        p.set_faults(rules)
        p.reset_stats()
        t0 = time.time()
        pr = sc.run("-v", "run", "--json", env=env, check=None)
        elapsed = time.time() - t0
        reqs = p.requests()
        left = p.faults()
        p.clear_faults()
        eq(pr.returncode, expect_status, "exit status (stderr: %s)" % pr.stderr.decode()[-2000:])
        fired = sum(r.get("hits", 0) for r in (left if isinstance(left, list) else left["rules"]))
        assert fired > 0, "no fault fired: %r" % left
        if expect_status == 0:
            check_lines(sc, exp, [X])
            assert state_committed(sc)
        no_uploads_left(sc)
        return sc, exp, pr, reqs, elapsed
    except BaseException:
        sc.cleanup()
        raise


@test
def test_fault_slowdown_twice_then_success():
    sc, exp, pr, reqs, _ = run_with_faults("slowdown", [
        {"method": "GET", "path": "/2-big", "times": 2, "action": "slowdown"},
        {"method": "GET", "path": "list-type=2", "times": 2, "action": "slowdown"},
        {"method": "PUT", "path": "/out/", "times": 2, "action": "slowdown"}])
    try:
        codes = [r["code"] for r in reqs]
        eq(codes.count("SlowDown"), 6, "SlowDown answers")
    finally:
        sc.cleanup()


@test
def test_fault_500_and_request_timeout_are_retried():
    sc, exp, pr, reqs, _ = run_with_faults("status500", [
        {"method": "GET", "path": "/1-small", "times": 1, "action": {"status": 500}},
        {"method": "GET", "path": "/3-small", "times": 1, "action": {"status": 502}},
        {"method": "GET", "path": "/2-big", "times": 1, "action": "request_timeout"},
        {"method": "PUT", "times": 1, "action": {"status": 504}}])
    sc.cleanup()


@test
def test_fault_reset_mid_get_resumes_with_range():
    sc, exp, pr, reqs, _ = run_with_faults("resetget", [
        {"method": "GET", "path": "/2-big", "times": 2, "action": "reset_response_after:200000"}])
    try:
        gets = [r for r in reqs if r["method"] == "GET" and "/2-big" in r["target"]]
        eq([g["status"] for g in gets][-1], 206, "the last GET was a Range request")
        assert len(gets) == 3, gets
    finally:
        sc.cleanup()


@test
def test_fault_truncated_body_resumes():
    sc, exp, pr, reqs, _ = run_with_faults("truncated", [
        {"method": "GET", "path": "/2-big", "times": 1, "action": "truncate_response_after:300000"},
        {"method": "GET", "path": "/1-small", "times": 1, "action": "truncate_response_after:10"}])
    try:
        statuses = [r["status"] for r in reqs if r["method"] == "GET" and "/2-big" in r["target"]]
        eq(statuses, [200, 206], "GETs of the big file")
    finally:
        sc.cleanup()


@test
def test_fault_stalled_body_detected_and_resumed():
    sc, exp, pr, reqs, elapsed = run_with_faults("stall", [
        {"method": "GET", "path": "/2-big", "times": 1, "action": "stall_response_after:100000"}],
        env={"EVSHARE_STALL_TIMEOUT": "2"})
    try:
        assert 2 <= elapsed < 20, "stall handled in %.1f s" % elapsed
        assert b"stalled transfer" in pr.stderr, pr.stderr
        statuses = [r["status"] for r in reqs if r["method"] == "GET" and "/2-big" in r["target"]]
        eq(statuses[-1], 206, "resumed with a Range request")
    finally:
        sc.cleanup()


@test
def test_fault_reset_mid_upload_is_retried():
    sc, exp, pr, reqs, _ = run_with_faults("resetput", [
        {"method": "PUT", "path": "/out/", "times": 1, "action": "reset_request_after:1000"},
        {"method": "PUT", "path": "/out/", "times": 1, "action": "drop_response"}])
    # the stored PUT whose reply was lost is sent again (and stored again)
    puts = [r for r in reqs if r["method"] == "PUT" and "/out/" in r["target"]]
    assert len(puts) >= 3, puts
    sc.cleanup()


@test
def test_fault_reset_mid_part_upload_and_in_complete():
    p = peer()
    base = Scenario("resetpart")
    base.direct(A)
    evs = big_events(random.Random(9), A, 3200, "rp")        # ~7 MB: 2 parts of 5 MiB
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = S3Scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        p.set_faults([
            {"method": "PUT", "path": "partNumber=2", "times": 1, "action": "reset_request_after:300000"},
            {"method": "POST", "path": "uploads", "times": 1, "action": "slowdown"},
            # the Complete is done, but its reply is lost: the retry finds no upload
            {"method": "POST", "path": "uploadId=", "times": 1, "action": "reset_response_after:0"}])
        p.reset_stats()
        pr = sc.run("-v", "run", check=0)
        assert any("partNumber=2" in r["target"] for r in p.requests()), "no multipart upload"
        eq(sc.output_lines(X), evs, "the whole object")
        no_uploads_left(sc)
        assert all(r["hits"] for r in p.faults()), p.faults()
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_fault_upload_fails_for_good_then_next_run_finishes():
    p = peer()
    sc, exp = fault_scenario("putfails", p, S3Scenario, big=False)
    try:
        p.set_faults([{"method": "PUT", "path": "/out/", "times": -1, "action": {"status": 503}}])
        pr = sc.run("run", check=75)
        err = pr.stderr.decode()
        assert "cannot write 's3://%s/out/" % sc.dst_bucket in err and "gave up after 5" in err, err
        eq(sc.objects(X), [], "nothing uploaded")
        eq(owed(sc), [X], "its outputs are owed")
        p.clear_faults()
        pr = sc.run("run", check=0)
        check_lines(sc, exp, [X])
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_fault_multipart_fails_for_good_is_aborted():
    p = peer()
    base = Scenario("mpfails")
    base.direct(A)
    evs = big_events(random.Random(11), A, 3200, "mf")       # ~7 MB: 2 parts
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = S3Scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        # part 1 goes out while the file is read, part 2 after its end
        for part in ("partNumber=1", "partNumber=2"):
            p.set_faults([{"method": "PUT", "path": part, "times": -1,
                           "action": {"status": 400}, "code": "InvalidArgument"}])
            p.reset_stats()
            pr = sc.run("run", check=69)
            assert b"InvalidArgument" in pr.stderr, pr.stderr
            assert any(r["method"] == "DELETE" and "uploadId=" in r["target"]
                       for r in p.requests()), part
            no_uploads_left(sc)
            eq(sc.objects(X), [], "nothing visible")
            eq(owed(sc), [X], "its outputs are owed")
        p.clear_faults()
        sc.run("run", check=0)
        eq(sc.output_lines(X), evs, "the next run finishes")
        no_uploads_left(sc)
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_multipart_without_permission_to_list_uploads():
    """A destination policy with s3:PutObject only: ListMultipartUploads is
    denied, the upload still works (with a warning)."""
    p = peer()
    base = Scenario("mpdenied")
    base.direct(A)
    evs = big_events(random.Random(17), A, 3200, "md")
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = S3Scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        p.set_faults([{"method": "GET", "path": "uploads", "times": -1, "action": {"status": 403},
                       "code": "AccessDenied"}])
        pr = sc.run("run", check=0)
        assert b"AccessDenied" in pr.stderr and b"going on" in pr.stderr, pr.stderr
        eq(sc.output_lines(X), evs, "the whole object")
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_killed_during_multipart_upload_rerun_cleans_up():
    """SIGKILL while a part is on its way: the upload stays open on the
    server; the rerun re-executes the plan, aborts the leftover upload of
    that key and completes."""
    p = peer()
    base = Scenario("mpkill")
    base.direct(A)
    evs = big_events(random.Random(13), A, 3200, "mk")       # ~7 MB: 2 parts
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = S3Scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        sc.write_config()
        p.set_faults([{"method": "PUT", "path": "partNumber=2", "times": 1, "action": "delay_ms:3000"}])
        p.reset_stats()          # only this run's requests below
        e = dict(os.environ, **sc.env)
        proc = subprocess.Popen([BIN, "-q", "-c", sc.path("evshare.json"), "run"], env=e,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: any(r["method"] == "PUT" and "partNumber=1" in r["target"] and r["status"] == 200
                               for r in p.requests()), "part 1 to be stored")
        wait_in_flight(p, "PUT", "partNumber=2")      # held by the delay: the kill lands mid-part
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        quiesce(p)          # the delayed part still reaches moto; let it land before the rerun
        p.clear_faults()
        eq(len(open_uploads(p, sc.dst_bucket)), 1, "the interrupted run left an open upload")
        p.reset_stats()
        pr = sc.run("run", check=0)
        assert b"aborted 1 unfinished multipart upload" in pr.stderr, pr.stderr
        eq(sc.output_lines(X), evs, "the rerun completes the object")
        no_uploads_left(sc)
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_fault_get_fails_for_good_file_is_failed_and_retried():
    p = peer()
    sc, exp = fault_scenario("getfails", p, S3Scenario)
    try:
        p.set_faults([{"method": "GET", "path": "/2-big", "times": -1, "action": {"status": 500}}])
        s = sc.run_json(check=1)
        eq(s["status"], "partial", "status")
        eq(s["files"]["failed"], 1, "one failed file")
        reason = s["failed_files"][0]["reason"]
        assert "500 InternalError" in reason and "gave up after 5 attempts" in reason, reason
        p.clear_faults()
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], 1, "retried next run")
        eq(sorted(sc.output_lines(X)), sorted(exp.lines[X]), "every line once")
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_object_changed_since_listed_is_refused():
    """If-Match: an object replaced between the listing and its read fails
    the file (412, named in the message); the next run reads the new version."""
    p = peer()
    sc, exp = fault_scenario("ifmatch", p, S3Scenario, big=False)
    try:
        # the read of 3-small reaches moto 2 s late: replace it meanwhile
        p.set_faults([{"method": "GET", "path": "/3-small", "times": 1, "action": "delay_ms:2000"}])
        p.reset_stats()
        sc.write_config()
        e = dict(os.environ, **sc.env)
        proc = subprocess.Popen([BIN, "-c", sc.path("evshare.json"), "run", "--json"], env=e,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline and not any("/1-small" in r["target"] for r in p.requests()):
            time.sleep(0.02)
        p.put(sc.src_bucket, sc.src_key(A, "3-small.ndjson"), lines(event("third", A)))
        out, err = proc.communicate(timeout=60)
        eq(proc.returncode, 1, "partial (stderr %s)" % err.decode()[-800:])
        assert b"the object changed since it was listed (412" in err, err
        s = json.loads(out)
        eq(s["files"]["failed"], 1, "one failed file")
        p.clear_faults()
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], 1, "the new version is read next run")
        assert event("third", A) in sc.output_lines(X)
    finally:
        p.clear_faults()
        sc.cleanup()


# --------------------------------------------------------------------------
# other settings
# --------------------------------------------------------------------------

@test
def test_virtual_host_style():
    p = peer()
    sc, exp = small_scenario("vhost", p)
    try:
        host_ep = "http://localhost:%d" % p.port
        sc.loc_extra = {"endpoint": host_ep, "path_style": False}
        p.reset_stats()
        sc.run("run", check=0)
        reqs = p.requests()
        check_lines(sc, exp, [X])
        assert reqs and all(not r["target"].startswith("/" + sc.src_bucket) and
                            not r["target"].startswith("/" + sc.dst_bucket) for r in reqs), reqs[:3]
        eq(p.stats()["rejected"], 0, "rejected requests")
    finally:
        sc.cleanup()


@test
def test_gs_location_signs_for_region_auto():
    p = peer("auto")
    base = Scenario("gs")
    base.direct(A)
    base.add_file(A, "g.ndjson", lines(event("g1", A), event("g2", A)))
    base.additional(X, [A])
    sc = S3Scenario(base, p)
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        sc.loc_extra = {"endpoint": p.endpoint}
        cfg = sc.config()
        for d in cfg["direct_subscribers"]:
            d["source"]["url"] = d["source"]["url"].replace("s3://", "gs://", 1)
        for s in cfg["additional_subscribers"]:
            s["destination"]["url"] = s["destination"]["url"].replace("s3://", "gs://", 1)
        env = dict(sc.env)
        env.pop("AWS_REGION")
        env.pop("AWS_DEFAULT_REGION")
        e = dict(os.environ, **env)
        sc.write_config(cfg)
        pr = subprocess.run([BIN, "-c", sc.path("evshare.json"), "run", "--json"], env=e,
                            capture_output=True, timeout=60)
        eq(pr.returncode, 0, "exit (stderr %s)" % pr.stderr.decode())
        s = json.loads(pr.stdout)
        assert s["subscribers"][0]["objects"][0].startswith("gs://"), s
        check_lines(sc, exp, [X])
        eq(p.stats()["rejected"], 0, "rejected requests")
    finally:
        sc.cleanup()


SKEW_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
/* CLOCK_REALTIME shifted by $SKEW_SECONDS: a machine whose clock is off */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	static int (*real)(clockid_t, struct timespec *);
	const char *s = getenv("SKEW_SECONDS");
	int r;

	if (!real)
		real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	r = real(id, ts);
	if (!r && id == CLOCK_REALTIME && s)
		ts->tv_sec += atol(s);
	return r;
}
"""


@test
def test_clock_skew_is_named():
    p = peer()
    sc, _ = small_scenario("skew", p)
    tmp = tempfile.mkdtemp(prefix="evshare-skew.")
    try:
        src, so = os.path.join(tmp, "skew.c"), os.path.join(tmp, "skew.so")
        with open(src, "w") as f:
            f.write(SKEW_SHIM)
        subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", so, src, "-ldl"], check=True)
        env = {"LD_PRELOAD": so, "SKEW_SECONDS": "3600",
               "ASAN_OPTIONS": "detect_leaks=1:verify_asan_link_order=0"}
        pr = sc.run("run", env=env, check=77)
        err = pr.stderr.decode()
        assert "RequestTimeTooSkewed" in err, err
        # real S3 sends a Date with its error and the offset is given ("off by
        # +3600 s", see check_http.c); the peer's own errors carry none
        assert "the clock of this machine is off" in err and "NTP" in err, err
        assert not state_committed(sc)
        sc.run("run", check=0)
    finally:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
        sc.cleanup()


@test
def test_tls_peer_is_verified_and_ca_bundle_is_used():
    p = peer()
    sc, exp = small_scenario("tls", p)
    tmp = tempfile.mkdtemp(prefix="evshare-tls.")
    front = s3harness.TlsFront(p, tmp, names="DNS:localhost")
    try:
        ep = "https://localhost:%d" % front.port
        sc.env.update({"AWS_ENDPOINT_URL": ep, "AWS_ENDPOINT_URL_S3": ep})
        # a self-signed certificate is refused, with a hint, and not retried
        pr = sc.run("run", check=69)
        err = pr.stderr.decode()
        assert "TLS" in err and "AWS_CA_BUNDLE" in err, err
        assert "gave up" not in err, err
        assert not state_committed(sc)
        # the right CA, the wrong name: refused too
        bad = "https://127.0.0.1:%d" % front.port
        pr = sc.run("run", env={"AWS_CA_BUNDLE": front.cert, "AWS_ENDPOINT_URL": bad,
                                "AWS_ENDPOINT_URL_S3": bad}, check=69)
        assert b"TLS" in pr.stderr, pr.stderr
        # AWS_CA_BUNDLE names the CA: it works
        sc.run("run", env={"AWS_CA_BUNDLE": front.cert}, check=0)
        check_lines(sc, exp, [X])
        assert front.handshakes_failed >= 1, front.handshakes_failed   # the untrusted CA
    finally:
        front.stop()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
        sc.cleanup()


@test
def test_unreachable_endpoint_is_temporary():
    p = peer()
    sc, _ = small_scenario("unreach", p)
    try:
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t0 = time.time()
        dead = "http://127.0.0.1:%d" % port
        pr = sc.run("run", env={"AWS_ENDPOINT_URL": dead, "AWS_ENDPOINT_URL_S3": dead}, check=75)
        assert b"cannot connect" in pr.stderr and b"gave up after 5 attempts" in pr.stderr, pr.stderr
        assert time.time() - t0 < 30
        assert not state_committed(sc)
    finally:
        sc.cleanup()


if __name__ == "__main__":
    main()
