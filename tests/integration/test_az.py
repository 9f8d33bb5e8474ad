#!/usr/bin/env python3
"""Integration tests of evshare's az:// backend against Azurite (the pinned
npm version, started by this suite on 127.0.0.1, see tests/azure/): the
signer's vectors replayed live, the core scenario of test_core.py with every
location on az:// (compared with the reference model and with a file://
run of the same fixtures), pagination past one List Blobs page, odd blob
names, a block-list upload, credentials (a wrong key, a SAS token,
connection strings, a per-location credentials file), secrets in logs, the
fault suite through tests/azure/faultproxy.py (ServerBusy, 500, resets,
truncated and stalled bodies, interrupted block uploads), and a mixed run:
sources on s3://, subscribers on az://, gs:// and file:// at once.

Standard library only, but for the mixed scenario, which needs the S3 test
peer (moto, boto3: the pyenv Python 3.11.7) and is skipped loudly without
it.  Ends with "N passed, N failed"; exits non-zero on failure.
"""
import base64
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "azure"))

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
import azclient  # noqa: E402
from azharness import (AzScenario, peer, new_container, upload_many, state_committed,  # noqa: E402
                       read_state, test, main, Skip, KEY, ACCOUNT, WRONG_KEY, base_env)

# evshare must see only what a test gives it
for _v in list(os.environ):
    if _v.startswith("AZURE_") or _v.startswith("AWS_") or _v == "REQUESTS_CA_BUNDLE":
        del os.environ[_v]
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/evshare-test/credentials"
os.environ["AWS_CONFIG_FILE"] = "/nonexistent/evshare-test/config"

SECRETS = [KEY, WRONG_KEY]


def assert_no_secret(p, secrets=()):
    for stream in (p.stdout, p.stderr):
        for sec in list(SECRETS) + list(secrets):
            assert sec.encode() not in stream, "a secret is in the output"
        for word in (b"SharedKey ", b"Authorization:", b"sig=", b"Signature"):
            assert word not in stream, "%r is in the output" % word


def sas_secret(token):
    """The sig= value of a SAS token, as sent (the part that is a secret)."""
    return [kv.split("=", 1)[1] for kv in token.split("&") if kv.startswith("sig=")][0]


def small_scenario(name, p, nfiles=3, via_proxy=True):
    base = Scenario(name)
    base.direct(A)
    for i in range(nfiles):
        base.add_file(A, "f-%d.ndjson.gz" % i,
                      gz(lines(*[event("%s-%d-%d" % (name, i, j), A) for j in range(20)])))
    base.additional(X, [A])
    sc = AzScenario(base, p, via_proxy=via_proxy)
    sc.upload()
    return sc, reference.expected(sc.expected_inputs(), sub_tuples(sc))


# --------------------------------------------------------------------------
# the signer, live
# --------------------------------------------------------------------------

@test
def test_signer_vectors_accepted_by_azurite():
    """Every vector of tests/data/azure/sign/ for devstoreaccount1 (the
    Authorization the C signer is checked against) sent as is: Azurite
    accepts it; the same request with one byte of the signature changed is
    refused with 403."""
    p = peer()
    with open(os.path.join(ROOT, "tests", "data", "azure", "sign", "vectors.json")) as f:
        cases = [c for c in json.load(f)["cases"] if c["account"] == ACCOUNT]
    assert len(cases) >= 3, cases
    p.client.create_container("cont")
    p.client.put_blob("cont", "dir/x", b"x")

    def send(c, auth):
        conn = http.client.HTTPConnection("127.0.0.1", p.az.port, timeout=30)
        target = c["path"] + ("?" + c["query"] if c["query"] else "")
        h = dict(c["headers"])
        h.update({"x-ms-date": c["x_ms_date"], "Authorization": auth,
                  "Content-Length": str(c["content_length"])})
        body = b"hello world"[:c["content_length"]] if c["method"] == "PUT" else None
        if body is not None and len(body) < c["content_length"]:
            body = body + b"." * (c["content_length"] - len(body))
        conn.request(c["method"], target, body=body, headers=h)
        r = conn.getresponse()
        r.read()
        conn.close()
        return r.status

    for c in cases:
        status = send(c, c["authorization"])
        assert status in (200, 201), "%s: %d" % (c["name"], status)
        bad = c["authorization"][:-3] + ("A" if c["authorization"][-3] != "A" else "B") + \
            c["authorization"][-2:]
        eq(send(c, bad), 403, c["name"] + " with a changed signature")


# --------------------------------------------------------------------------
# the core scenario
# --------------------------------------------------------------------------

@test
def test_core_scenario_on_az_matches_reference_and_file():
    p = peer()
    base = build_main_scenario(random.Random(1))
    sc = AzScenario(base, p)
    fsc = None
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc), max_line_bytes=4096)
        assert exp.failed_files and exp.malformed >= 6 and exp.rejected == 1
        fsc = sc.file_copy()
        fs = fsc.run_json(check=1)
        p.reset_stats()
        t0 = time.time()
        s = sc.run_json(check=1)
        elapsed = time.time() - t0
        reqs = p.requests()
        conns = len(set(r["conn"] for r in reqs))
        print("     core scenario on az://: %.2f s, %d request(s) on %d connection(s)" % (
            elapsed, len(reqs), conns))
        assert conns <= 4, "connections are not reused: %d" % conns
        eq(s["status"], "partial", "status")
        check_summary(s, exp, [X, Y, Z])
        check_lines(sc, exp, [X, Y, Z])
        check_quarantine(sc, exp)
        for sub in (X, Y, Z):
            eq(sc.output_lines(sub), fsc.output_lines(sub), "az:// and file:// lines of " + sub)
            # byte-identical objects under the same keys but for the run id
            eq(without_run_id(sc.objects(sub)), without_run_id(fsc.objects(sub)),
               "objects of %s, az:// vs file://" % sub)
        for k in ("files", "events"):
            eq(s[k], fs[k], "summary %s, az:// vs file://" % k)
        eq([f["url"].endswith("b-truncated.ndjson.gz") for f in s["failed_files"]], [True],
           "failed files")
        assert s["failed_files"][0]["url"].startswith("az://"), s["failed_files"]
        zobj = sc.objects(Z)
        eq(sorted(set(k.split("/")[0] for k, _ in zobj)), [A, B, C], "Z's objects per source")
        for so in s["subscribers"]:
            eq(len(so["objects"]), len(sc.objects(so["org_id"])), "objects listed in summary")
            for url in so["objects"]:
                assert url.startswith("az://%s/%s/out/" % (ACCOUNT, sc.dst_container)), url
        retried_fixed_then_idle(sc, exp)
        eq(sc.uncommitted_blocks(), {}, "uncommitted blocks")
    finally:
        sc.cleanup()
        if fsc:
            fsc.cleanup()


# --------------------------------------------------------------------------
# listing, names, blocks
# --------------------------------------------------------------------------

@test
def test_pagination_past_one_list_page():
    """5040 blobs: more than one List Blobs page (5000), NextMarker followed
    (straight to Azurite: the page count is in evshare's debug log)."""
    p = peer()
    base = Scenario("pages")
    base.direct(A)
    n = 5040
    for i in range(n):
        base.add_file(A, "d%02d/f-%05d.ndjson" % (i % 7, i), lines(event("p%05d" % i, A)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = AzScenario(base, p, via_proxy=False)
    try:
        t0 = time.time()
        sc.upload()
        t_up = time.time() - t0
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        t0 = time.time()
        pr = sc.run("-v", "run", "--json", check=0)
        s = json.loads(pr.stdout)
        print("     %d blobs: uploaded in %.1f s, run in %.1f s" % (n, t_up, time.time() - t0))
        eq(s["files"]["listed"], n, "files listed")
        eq(s["files"]["processed"], n, "files processed")
        check_lines(sc, exp, [X])
        assert ("listed '%s': %d objects in 2 page(s)" % (sc.src_url(A), n)).encode() \
            in pr.stderr, pr.stderr[-2000:]
        s2 = sc.run_json(check=0)
        eq(s2["files"]["planned"], 0, "the next run plans nothing")
    finally:
        sc.cleanup()


ODD_NAMES = ["sp ace/a b.ndjson", "plus+and=equals.ndjson", "per%cent%41%2F.ndjson",
             "amp&er?sand#hash.ndjson", "h\u00e9t\u00e9/\u65e5\u672c\u8a9e \U0001F600.ndjson",
             "tilde~star*(paren)!'quote'.ndjson", "colon:semi;at@dollar$comma,.ndjson",
             "brackets[]{}^`|.ndjson", "lt<gt>quot\".ndjson"]


@test
def test_odd_blob_names_and_destination_prefix():
    p = peer()
    base = Scenario("names")
    base.direct(A)
    evs = []
    for i, k in enumerate(ODD_NAMES):
        e = event("k%02d" % i, A)
        evs.append(e)
        base.add_file(A, k, lines(e))
    base.additional(X, [A])
    sc = AzScenario(base, p, dest="out put+x=%y/\u00e9/")
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], len(ODD_NAMES), "files processed")
        check_lines(sc, exp, [X])
        eq(sorted(sc.output_lines(X)), sorted(evs), "every odd name was read")
        for url in s["subscribers"][0]["objects"]:
            assert url.startswith("az://%s/%s/out put+x=%%y/\u00e9/" % (ACCOUNT, sc.dst_container)), url
        s2 = sc.run_json(check=0)
        eq(s2["files"]["planned"], 0, "state keys match listed names")
    finally:
        sc.cleanup()


@test
def test_block_list_upload_above_threshold():
    p = peer()
    base = Scenario("blocks")
    base.direct(A)
    evs = big_events(random.Random(5), A, 5600, "bl")          # ~12.6 MB gzipped
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = AzScenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        p.reset_stats()
        s = sc.run_json(check=0)
        objs = sc.objects(X)
        eq(len(objs), 1, "one object")
        data = objs[0][1]
        assert len(data) > 10 << 20, "output only %d bytes" % len(data)
        eq(sc.output_lines(X), evs, "the whole object, in order")
        name = "out/" + objs[0][0]
        nblocks = (len(data) + (5 << 20) - 1) // (5 << 20)
        bl = p.client.block_list(sc.dst_container, name, "all")
        eq(len(bl["committed"]), nblocks, "committed blocks")
        eq(bl["uncommitted"], [], "uncommitted blocks")
        assert all(size <= 5 << 20 for _, size in bl["committed"]), bl
        eq(len(set(len(i) for i, _ in bl["committed"])), 1, "block ids of one length")
        props = p.client.properties(sc.dst_container, name)
        eq(props["content-md5"], base64.b64encode(hashlib.md5(data).digest()).decode(),
           "the blob's Content-MD5 (x-ms-blob-content-md5 of Put Block List)")
        eq(int(props["content-length"]), len(data), "blob size")
        reqs = p.requests()
        puts = [r for r in reqs if r["method"] == "PUT" and "comp=block&" in r["target"]]
        eq(len(puts), nblocks, "Put Block requests")
        assert all(r["bytes_in"] <= 5 << 20 for r in puts), "a block above part_size"
        # the blocks go out on several connections at once (upload_streams 4)
        conns = {r["conn"] for r in puts}
        print("     %d blocks on %d connection(s)" % (nblocks, len(conns)))
        assert 2 <= len(conns) <= min(nblocks, 4), conns
        eq(len([r for r in reqs if "comp=blocklist" in r["target"]]), 1, "Put Block List")
        bodies = [r for r in reqs if r["bytes_in"]]
        eq(len(bodies), nblocks + 1, "requests with a body")
        eq([r["content_md5"] for r in bodies], ["match"] * len(bodies),
           "Content-MD5 of every Put Block and of the Put Block List")
        eq(len([r for r in reqs if r["method"] == "PUT" and "comp=" not in r["target"]]), 0,
           "Put Blob requests")
        eq(s["subscribers"][0]["objects"], ["az://%s/%s/%s" % (ACCOUNT, sc.dst_container, name)],
           "summary")
    finally:
        sc.cleanup()


@test
def test_blocks_go_out_while_the_file_is_read_and_none_is_committed_if_it_fails():
    """Blocks of a growing blob are sent while its input is still read
    (uncommitted, invisible); when the input's last CRC is wrong no block
    list is put, no blob appears, the good file's lines come out once."""
    p = peer()
    sc, good = late_crc_scenario("azlate", p, AzScenario)
    try:
        reqs = run_late_crc(sc)
        blocks = [q for q in reqs if q["method"] == "PUT" and "comp=block&" in q["target"]]
        print("     %d block(s) sent before the CRC failed" % len(blocks))
        assert blocks, "no block went out while the file was read"
        eq([q for q in reqs if "comp=blocklist" in q["target"]], [], "Put Block List requests")
        check_late_crc_output(sc, good)
    finally:
        sc.cleanup()


# --------------------------------------------------------------------------
# credentials
# --------------------------------------------------------------------------

@test
def test_wrong_key_fails_cleanly_then_right_key_does_everything():
    p = peer()
    sc, exp = small_scenario("wrongkey", p)
    try:
        p.reset_stats()
        pr = sc.run("-v", "-v", "run", env={"AZURE_STORAGE_KEY": WRONG_KEY}, check=77)
        err = pr.stderr.decode()
        assert "403 AuthorizationFailure" in err, err
        assert "Shared Key from AZURE_STORAGE_KEY" in err, err
        assert "cannot list 'az://%s/%s/%s/events/'" % (ACCOUNT, sc.src_container, A) in err, err
        assert_no_secret(pr)
        eq(sc.objects(X), [], "nothing uploaded")
        assert not state_committed(sc), "state committed"
        assert all(r["status"] == 403 for r in p.requests()), p.requests()
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], 3, "the next run reads everything")
        check_lines(sc, exp, [X])
    finally:
        sc.cleanup()


def write_secret(sc, name, text, mode=0o600):
    path = sc.path(name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


@test
def test_wrong_destination_key_keeps_the_outputs_owed_uploads_nothing():
    """Sources readable with the environment's key, the destination's
    credentials file holds a wrong key: 77 naming the object, no blob and no
    uncommitted block, the run's outputs owed to X; fixed, the next run
    finishes them under the same keys."""
    p = peer()
    base = Scenario("wrongdest")
    base.direct(A)
    evs = big_events(random.Random(3), A, 2700, "wd")               # ~6 MB: blocks
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.add_file(A, "small.ndjson", lines(event("wd-small", A)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = AzScenario(base, p, via_proxy=False)     # Azurite's own early 403 on a 5 MiB block
    try:
        sc.upload()
        exp = reference.expected(sc.expected_inputs(), sub_tuples(sc))
        cred = write_secret(sc, "dst.conn", "AccountName=%s;AccountKey=%s\n" % (ACCOUNT, WRONG_KEY))
        sc.dst_extra = {"credentials_file": "dst.conn", "part_size": 5 << 20,
                        "multipart_threshold": 5 << 20}
        pr = sc.run("-v", "-v", "run", check=77)
        err = pr.stderr.decode()
        assert "cannot write 'az://%s/%s/out/" % (ACCOUNT, sc.dst_container) in err, err
        assert "AuthorizationFailure" in err and "credentials file '%s'" % cred in err, err
        assert_no_secret(pr)
        eq(sc.blobs(), [], "nothing uploaded")
        eq(sc.uncommitted_blocks(), {}, "no uncommitted block")
        eq(owed(sc), [X], "its outputs are owed")
        write_secret(sc, "dst.conn", "AccountName=%s;AccountKey=%s\n" % (ACCOUNT, KEY))
        pr = sc.run("run", check=0)
        assert b"still owed" in pr.stderr, pr.stderr
        check_lines(sc, exp, [X])
        eq(owed(sc), [], "delivered")
    finally:
        sc.cleanup()


@test
def test_sas_tokens():
    """A SAS token instead of a key: read-write works and is never logged;
    a read-only token fails the upload (403, 77) with nothing committed; an
    expired one fails at once."""
    p = peer()
    sc, exp = small_scenario("sas", p)
    try:
        rw = azclient.account_sas(ACCOUNT, KEY, permissions="rwlac")
        ro = azclient.account_sas(ACCOUNT, KEY, permissions="rl")
        old = azclient.account_sas(ACCOUNT, KEY, permissions="rwlac",
                                   expiry="2020-01-01T00:00:00Z")
        sc.env = {"AZURE_STORAGE_SAS_TOKEN": "?" + rw, "EVSHARE_STALL_TIMEOUT": "3"}
        secrets = [sas_secret(t) for t in (rw, ro, old)]
        pr = sc.run("run", env={"AZURE_STORAGE_SAS_TOKEN": old}, check=77)
        assert b"cannot list" in pr.stderr and b"403" in pr.stderr, pr.stderr
        assert_no_secret(pr, secrets)
        pr = sc.run("run", env={"AZURE_STORAGE_SAS_TOKEN": ro}, check=77)
        err = pr.stderr.decode()
        assert "cannot write" in err and "AuthorizationPermissionMismatch" in err, err
        assert "SAS token from AZURE_STORAGE_SAS_TOKEN" in err, err
        assert_no_secret(pr, secrets)
        eq(sc.blobs(), [], "nothing uploaded")
        eq(owed(sc), [X], "its outputs are owed")
        p.reset_stats()
        pr = sc.run("-v", "-v", "run", check=0)
        assert_no_secret(pr, secrets)
        assert b"SAS token from AZURE_STORAGE_SAS_TOKEN" in pr.stderr, pr.stderr
        check_lines(sc, exp, [X])
        assert all("sig=" in r["target"] for r in p.requests()), "a request without the SAS"
    finally:
        sc.cleanup()


@test
def test_connection_strings_and_credentials_files():
    """The endpoint and key from AZURE_STORAGE_CONNECTION_STRING (no
    endpoint in the config); a per-location credentials file with a SAS;
    credentials for another account are a configuration error."""
    p = peer()
    sc, exp = small_scenario("connstr", p)
    try:
        sc.loc_extra = {}
        sc.env = {"AZURE_STORAGE_CONNECTION_STRING": p.az.connection_string(endpoint=p.endpoint),
                  "EVSHARE_STALL_TIMEOUT": "3"}
        p.reset_stats()
        pr = sc.run("-v", "run", check=0)
        assert b"Shared Key from AZURE_STORAGE_CONNECTION_STRING" in pr.stderr, pr.stderr
        assert_no_secret(pr)
        check_lines(sc, exp, [X])
        assert p.requests(), "the proxy (the connection string's BlobEndpoint) was not used"
        # a SAS connection string in the source's credentials file; the
        # destination keeps the environment's
        sas = azclient.account_sas(ACCOUNT, KEY, permissions="rl")
        write_secret(sc, "src.conn", "BlobEndpoint=%s;SharedAccessSignature=%s" % (p.endpoint, sas))
        sc.src_extra = {"credentials_file": "src.conn"}
        sc.put_source(A, "g.ndjson", lines(event("late", A)))
        pr = sc.run("-v", "run", check=0)
        assert b"SAS token from credentials file" in pr.stderr, pr.stderr
        assert_no_secret(pr, [sas_secret(sas)])
        assert event("late", A) in sc.output_lines(X)
        # another account's credentials are refused before anything is sent
        sc.src_extra = {}
        pr = sc.run("run", env={"AZURE_STORAGE_CONNECTION_STRING":
                                "AccountName=otheraccount;AccountKey=" + KEY}, check=78)
        assert b"is for account 'otheraccount', not 'devstoreaccount1'" in pr.stderr, pr.stderr
        assert_no_secret(pr)
        pr = sc.run("run", env={"AZURE_STORAGE_CONNECTION_STRING": "",
                                "AZURE_STORAGE_ACCOUNT": ""}, check=78)
        assert b"no credentials for Azure account 'devstoreaccount1'" in pr.stderr, pr.stderr
    finally:
        sc.cleanup()


@test
def test_production_style_endpoint_signs_without_the_path_account():
    """https://ACCOUNT.blob.core.windows.net form (the account in the host
    name, not in the path), here as http://devstoreaccount1.blob.localhost:PORT."""
    p = peer()
    sc, exp = small_scenario("hoststyle", p)
    try:
        sc.loc_extra = {"endpoint": "http://%s.blob.localhost:%d" % (ACCOUNT, p.proxy.port)}
        p.reset_stats()
        sc.run("run", check=0)
        check_lines(sc, exp, [X])
        reqs = p.requests()
        assert reqs and all(r["target"].startswith("/" + sc.src_container) or
                            r["target"].startswith("/" + sc.dst_container) for r in reqs), reqs[:3]
        assert all(r["status"] < 300 for r in reqs), reqs
    finally:
        sc.cleanup()


@test
def test_secrets_never_logged_at_any_verbosity():
    p = peer()
    sc, _ = small_scenario("secrets", p)
    try:
        p.set_faults([{"method": "GET", "path": "/f-1", "times": 1, "action": "server_busy"},
                      {"method": "PUT", "times": 1, "action": {"status": 500}}])
        for args in (["-v", "-v", "run"], ["-v", "-v", "--log-format", "json", "run", "--json"],
                     ["-v", "-v", "list"], ["-v", "-v", "run", "--dry-run"]):
            pr = sc.run(*args, check=None)
            assert pr.returncode == 0, (args, pr.stderr)
            assert_no_secret(pr)
        sas = azclient.account_sas(ACCOUNT, KEY, permissions="rl")
        for env in ({"AZURE_STORAGE_KEY": WRONG_KEY},
                    {"AZURE_STORAGE_KEY": "", "AZURE_STORAGE_SAS_TOKEN": sas},
                    {"AZURE_STORAGE_KEY": "not base64 " + KEY}):
            pr = sc.run("-v", "-v", "run", "--replay", env=env, check=None)
            assert pr.returncode in (77, 78), (env, pr.returncode, pr.stderr)
            assert_no_secret(pr, [sas_secret(sas)])
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_credentials_file_readable_by_others_draws_a_warning():
    """evshare.json(5), credentials_file: one that other users can read gets
    a warning.  Mode 0644 (and 0640): 'credentials file 'PATH' can be read by
    other users' on standard error, from run, list and -q alike, and the run
    still delivers with the file's key; mode 0600: no such warning although
    the file is used.  evshare check reads no credentials, so no warning.
    The key in the file never appears in any output."""
    p = peer()
    sc, exp = small_scenario("credmode", p)
    try:
        conn = "AccountName=%s;AccountKey=%s\n" % (ACCOUNT, KEY)
        cred = write_secret(sc, "az.conn", conn, mode=0o644)
        sc.src_extra = {"credentials_file": "az.conn"}
        sc.dst_extra = {"credentials_file": "az.conn"}
        # the environment's key is wrong: success means the file's key was used
        sc.env = dict(sc.env, AZURE_STORAGE_KEY=WRONG_KEY)
        warning = "evshare: warning: credentials file '%s' can be read by other users" % cred

        def no_secret(pr):
            assert_no_secret(pr)
            for stream in (pr.stdout, pr.stderr):
                assert conn.strip().encode() not in stream, "the connection string is in the output"

        pr = sc.run("-v", "run", check=0)
        err = pr.stderr.decode()
        # once per run, though the source is listed and read and the
        # destination written with it
        eq(err.count(warning), 1, "warnings in one run")
        assert "Shared Key from credentials file '%s'" % cred in err, err
        no_secret(pr)
        check_lines(sc, exp, [X])
        for args in (["list"], ["-q", "run"], ["--log-format", "json", "run", "--dry-run"]):
            pr = sc.run(*args, check=0)
            err = pr.stderr.decode()
            if "json" in args:
                recs = [json.loads(l) for l in err.splitlines()]
                assert any(r["level"] == "warning" and cred in r["msg"] and
                           "can be read by other users" in r["msg"] for r in recs), err
            else:
                assert warning in err, (args, err)
            no_secret(pr)
        pr = sc.run("check", check=0)
        assert b"other users" not in pr.stderr, pr.stderr
        os.chmod(cred, 0o640)
        sc.put_source(A, "g-640.ndjson", lines(event("credmode-640", A)))
        pr = sc.run("run", check=0)
        assert warning in pr.stderr.decode(), pr.stderr
        no_secret(pr)
        # 0600: used (the debug line names it), never warned about
        os.chmod(cred, 0o600)
        sc.put_source(A, "g-600.ndjson", lines(event("credmode-600", A)))
        for args in (["-v", "-v", "run"], ["-v", "list"]):
            pr = sc.run(*args, check=0)
            err = pr.stderr.decode()
            assert "from credentials file '%s'" % cred in err, (args, err)
            assert "other users" not in err and "chmod" not in err, (args, err)
            no_secret(pr)
        out = sc.output_lines(X)
        for eid in ("credmode-640", "credmode-600"):
            eq(out.count(event(eid, A)), 1, eid + " delivered once")
    finally:
        sc.cleanup()


# --------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------

def run_with_faults(name, rules, expect_status=0, env=None):
    p = peer()
    sc, exp = fault_scenario(name, p, AzScenario)
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
        assert all(r["hits"] > 0 for r in left), "a fault did not fire: %r" % left
        if expect_status == 0:
            check_lines(sc, exp, [X])
            assert state_committed(sc)
        return sc, exp, pr, reqs, elapsed
    except BaseException:
        sc.cleanup()
        raise


@test
def test_fault_server_busy_and_500_are_retried():
    sc, exp, pr, reqs, _ = run_with_faults("busy", [
        {"method": "GET", "path": "/2-big", "times": 2, "action": "server_busy"},
        {"method": "GET", "path": "comp=list", "times": 2, "action": "server_busy"},
        {"method": "PUT", "path": "/out/", "times": 1, "action": "server_busy"},
        {"method": "GET", "path": "/1-small", "times": 1, "action": {"status": 500}},
        {"method": "GET", "path": "/3-small", "times": 1, "action": {"status": 500},
         "code": "OperationTimedOut"},
        {"method": "PUT", "path": "/out/", "times": 1, "action": {"status": 502}}])
    try:
        codes = [r["code"] for r in reqs]
        eq(codes.count("ServerBusy"), 5, "ServerBusy answers")
        eq(codes.count("InternalError") + codes.count("OperationTimedOut"), 2, "500 answers")
    finally:
        sc.cleanup()


@test
def test_fault_reset_mid_get_resumes_with_range():
    sc, exp, pr, reqs, _ = run_with_faults("resetget", [
        {"method": "GET", "path": "/2-big", "times": 2, "action": "reset_response_after:200000"}])
    try:
        gets = [r for r in reqs if r["method"] == "GET" and "/2-big" in r["target"]]
        eq(len(gets), 3, "GETs of the big file")
        eq(gets[-1]["status"], 206, "the last GET was a Range request")
    finally:
        sc.cleanup()


@test
def test_fault_truncated_and_stalled_bodies_resume():
    sc, exp, pr, reqs, elapsed = run_with_faults("truncstall", [
        {"method": "GET", "path": "/2-big", "times": 1, "action": "truncate_response_after:300000"},
        {"method": "GET", "path": "/1-small", "times": 1, "action": "stall_response_after:100"},
        {"method": "GET", "path": "/3-small", "times": 1, "action": "truncate_response_after:10"}],
        env={"EVSHARE_STALL_TIMEOUT": "2"})
    try:
        statuses = [r["status"] for r in reqs if r["method"] == "GET" and "/2-big" in r["target"]]
        eq(statuses, [200, 206], "GETs of the big file")
        assert b"stalled transfer" in pr.stderr, pr.stderr
        assert 2 <= elapsed < 30, "stall handled in %.1f s" % elapsed
    finally:
        sc.cleanup()


@test
def test_fault_resets_mid_block_upload_and_in_block_list():
    p = peer()
    base = Scenario("resetblocks")
    base.direct(A)
    evs = big_events(random.Random(9), A, 3200, "rb")        # ~7 MB: 2 blocks of 5 MiB
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = AzScenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        p.set_faults([
            {"method": "PUT", "path": "comp=block&", "times": 1, "action": "reset_request_after:300000"},
            {"method": "PUT", "path": "comp=block&", "times": 1, "action": "drop_response"},
            # the block list is committed, its reply lost: the retry finds it committed
            {"method": "PUT", "path": "comp=blocklist", "times": 1, "action": "drop_response"}])
        p.reset_stats()
        pr = sc.run("-v", "-v", "run", check=0)
        eq(sc.output_lines(X), evs, "the whole object")
        assert all(r["hits"] for r in p.faults()), p.faults()
        eq(len([r for r in p.requests() if "comp=blocklist" in r["target"]]), 2,
           "Put Block List sent twice")
        eq(sc.uncommitted_blocks(), {}, "uncommitted blocks")
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_fault_upload_fails_for_good_then_next_run_finishes():
    p = peer()
    sc, exp = fault_scenario("putfails", p, AzScenario, big=False)
    try:
        p.set_faults([{"method": "PUT", "path": "/out/", "times": -1, "action": "server_busy"}])
        pr = sc.run("run", check=75)
        err = pr.stderr.decode()
        assert "cannot write 'az://%s/%s/out/" % (ACCOUNT, sc.dst_container) in err, err
        assert "503 ServerBusy" in err and "gave up after 5 attempts" in err, err
        eq(sc.objects(X), [], "nothing uploaded")
        eq(owed(sc), [X], "its outputs are owed")
        p.clear_faults()
        sc.run("run", check=0)
        check_lines(sc, exp, [X])
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_fault_body_corrupted_in_transit_is_refused_by_its_content_md5():
    p = peer()
    sc, exp = fault_scenario("md5", p, AzScenario, big=False)
    try:
        p.reset_stats()
        p.set_faults([{"method": "PUT", "path": "/out/", "times": -1,
                       "action": "corrupt_request_body"}])
        pr = sc.run("run", check=None)
        err = pr.stderr.decode()
        print("     exit %d: %s" % (pr.returncode, err.strip().splitlines()[-1][:160]))
        eq(pr.returncode, 69, "exit status: the store refused the upload")
        assert "cannot write 'az://%s/%s/out/" % (ACCOUNT, sc.dst_container) in err, err
        assert "Md5Mismatch" in err, err
        puts = [r for r in p.requests() if r["method"] == "PUT" and "/out/" in r["target"]]
        assert puts and all(r["status"] == 400 and r["code"] == "Md5Mismatch" for r in puts), puts
        eq(len(puts), 1, "a 400 is not retried")
        eq(sc.objects(X), [], "nothing stored")
        eq(owed(sc), [X], "its outputs are owed")
        p.clear_faults()
        p.reset_stats()
        sc.run("run", check=0)
        check_lines(sc, exp, [X])
        bodies = [r for r in p.requests() if r["bytes_in"]]
        assert bodies and all(r["content_md5"] == "match" for r in bodies), bodies
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_fault_get_fails_for_good_file_is_failed_and_retried():
    p = peer()
    sc, exp = fault_scenario("getfails", p, AzScenario)
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
def test_blob_changed_since_listed_is_refused():
    """If-Match: a blob replaced between the listing and its read fails the
    file (412 ConditionNotMet, named in the message); the next run reads
    the new version."""
    p = peer()
    sc, exp = fault_scenario("ifmatch", p, AzScenario, big=False)
    try:
        p.set_faults([{"method": "GET", "path": "/3-small", "times": 1, "action": "delay_ms:2000"}])
        p.reset_stats()
        sc.write_config()
        e = dict(os.environ, **sc.env)
        proc = subprocess.Popen([BIN, "-c", sc.path("evshare.json"), "run", "--json"], env=e,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline and not any("/1-small" in r["target"] for r in p.requests()):
            time.sleep(0.02)
        # the listing is done (1-small was read); 3-small's read is held 2 s
        p.client.put_blob(sc.src_container, sc.src_key(A, "3-small.ndjson"), lines(event("third", A)))
        out, err = proc.communicate(timeout=60)
        eq(proc.returncode, 1, "partial (stderr %s)" % err.decode()[-800:])
        assert b"the object changed since it was listed (412 ConditionNotMet)" in err, err
        s = json.loads(out)
        eq(s["files"]["failed"], 1, "one failed file")
        p.clear_faults()
        s = sc.run_json(check=0)
        eq(s["files"]["processed"], 1, "the new version is read next run")
        assert event("third", A) in sc.output_lines(X)
    finally:
        p.clear_faults()
        sc.cleanup()


@test
def test_killed_during_block_upload_rerun_completes():
    """SIGKILL while a block is on its way: block 1 stays uncommitted, no
    blob is visible; the rerun re-executes the plan and commits the whole
    blob (Azure drops the leftover block at that commit)."""
    p = peer()
    base = Scenario("blockkill")
    base.direct(A)
    evs = big_events(random.Random(13), A, 3200, "bk")       # ~7 MB: 2 blocks
    base.add_file(A, "big.ndjson.gz", gz(lines(*evs)))
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = AzScenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    try:
        sc.upload()
        sc.write_config()
        p.set_faults([{"method": "PUT", "path": "comp=block&", "times": -1, "action": "delay_ms:3000"}])
        p.reset_stats()
        e = dict(os.environ, **sc.env)
        proc = subprocess.Popen([BIN, "-q", "-c", sc.path("evshare.json"), "run"], env=e,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            if any("comp=block&" in r["target"] and r["status"] == 201 for r in p.requests()):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # the killed run's delayed blocks still reach Azurite: let them land
        # (the rerun's commit drops them only if they came before it)
        p.proxy.wait_idle()
        p.clear_faults()
        eq(sc.blobs(), [], "nothing visible after the kill")
        assert not state_committed(sc)
        pr = sc.run("run", check=0)
        assert b"interrupted run" in pr.stderr, pr.stderr
        eq(sc.output_lines(X), evs, "the rerun completes the object")
        eq(sc.uncommitted_blocks(), {}, "uncommitted blocks after the commit")
    finally:
        p.clear_faults()
        sc.cleanup()


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------

@test
def test_config_keys_of_az_locations():
    """region/profile/path_style are errors on az:// locations,
    credentials_file is one on the others; a bad account or container name
    fails at open with 78."""
    p = peer()
    sc, _ = small_scenario("cfgkeys", p)
    try:
        sc.dst_extra = {"region": "us-east-1", "path_style": True}
        pr = sc.run("check", check=78)
        err = pr.stderr.decode()
        assert "$.additional_subscribers[0].destination.region: not used by az:// locations" in err, err
        assert "destination.path_style: not used by az:// locations" in err, err
        sc.dst_extra = {}
        cfg = sc.config()
        cfg["additional_subscribers"][0]["destination"] = {"url": "file:out/",
                                                          "credentials_file": "x"}
        sc.write_config(cfg)
        pr = subprocess.run([BIN, "-c", sc.path("evshare.json"), "check"], capture_output=True)
        eq(pr.returncode, 78, "credentials_file on file://")
        assert b"only az:// locations have a credentials_file" in pr.stderr, pr.stderr
        cfg["additional_subscribers"][0]["destination"] = {
            "url": "az://%s/Bad_Container/out/" % ACCOUNT, "endpoint": p.endpoint}
        sc.write_config(cfg)
        pr = subprocess.run([BIN, "-c", sc.path("evshare.json"), "run"], capture_output=True,
                            env=dict(os.environ, **sc.env))
        eq(pr.returncode, 78, "a bad container name")
        assert b"container 'Bad_Container' is not a container name" in pr.stderr, pr.stderr
    finally:
        sc.cleanup()


@test
def test_missing_container_is_named():
    p = peer()
    sc, _ = small_scenario("nocont", p)
    try:
        sc.src_container = "nosuchcontainer"
        pr = sc.run("run", check=None)
        assert pr.returncode != 0
        assert b"container 'nosuchcontainer' does not exist in account 'devstoreaccount1' " \
               b"(404 ContainerNotFound)" in pr.stderr, pr.stderr
        assert not state_committed(sc)
    finally:
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
        sc.loc_extra = {"endpoint": "http://127.0.0.1:%d/%s" % (port, ACCOUNT)}
        t0 = time.time()
        pr = sc.run("run", check=75)
        assert b"cannot connect" in pr.stderr and b"gave up after 5 attempts" in pr.stderr, pr.stderr
        assert time.time() - t0 < 30
        assert not state_committed(sc)
    finally:
        sc.cleanup()


@test
def test_tls_peer_is_verified_and_requests_ca_bundle_is_used():
    p = peer()
    sc, exp = small_scenario("tls", p)
    tmp = tempfile.mkdtemp(prefix="evshare-aztls.")
    import s3harness

    class Target:
        port = p.proxy.port
    front = s3harness.TlsFront(Target, tmp, names="DNS:localhost")
    try:
        sc.loc_extra = {"endpoint": "https://localhost:%d/%s" % (front.port, ACCOUNT)}
        pr = sc.run("run", check=69)
        err = pr.stderr.decode()
        assert "TLS" in err and "REQUESTS_CA_BUNDLE" in err, err
        assert "gave up" not in err, err
        assert not state_committed(sc)
        sc.run("run", env={"REQUESTS_CA_BUNDLE": front.cert}, check=0)
        check_lines(sc, exp, [X])
        assert front.handshakes_failed >= 1, front.handshakes_failed
    finally:
        front.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        sc.cleanup()


@test
def test_example_azure_config_passes_check():
    p = subprocess.run([BIN, "-c", os.path.join(ROOT, "examples", "azure.json"), "check"],
                       capture_output=True, timeout=60)
    eq(p.returncode, 0, "evshare check examples/azure.json (%s)" % p.stderr.decode())
    with open(os.path.join(ROOT, "examples", "azure.json")) as f:
        cfg = json.load(f)
    urls = [d["source"] if isinstance(d["source"], str) else d["source"]["url"]
            for d in cfg["direct_subscribers"]]
    urls += [a["destination"] if isinstance(a["destination"], str) else a["destination"]["url"]
             for a in cfg["additional_subscribers"]]
    assert sum(u.startswith("az://") for u in urls) >= 2, urls
    assert any(isinstance(a["destination"], dict) and "credentials_file" in a["destination"]
               for a in cfg["additional_subscribers"]), "no per-location credentials"


# --------------------------------------------------------------------------
# mixed: s3:// sources, az:// + gs:// + file:// subscribers in one run
# --------------------------------------------------------------------------

def have_moto():
    try:
        import boto3  # noqa: F401
        import moto  # noqa: F401
        return True
    except ImportError:
        return False


@test
def test_mixed_s3_sources_az_gs_file_subscribers_in_one_run():
    """Sources on s3:// (the SigV4-checking moto peer, endpoint from the
    config's "s3" defaults); X on az:// (endpoint and key from
    AZURE_STORAGE_CONNECTION_STRING: the "s3" endpoint does not leak into
    it), Y on gs:// (a second peer signing for region "auto"), Z on
    file://.  Each subscriber's output equals the reference and a file://
    run of the same fixtures."""
    if not have_moto():
        raise Skip("needs moto and boto3 (the pyenv Python 3.11.7): run with it")
    import s3harness
    p = peer()
    s3p = s3harness.peer()
    gsp = s3harness.peer("auto")
    base = build_main_scenario(random.Random(21), truncated=False)
    s3sc = s3harness.S3Scenario(base, s3p)
    fsc = None
    try:
        s3sc.upload()
        exp = reference.expected(s3sc.expected_inputs(), sub_tuples(s3sc), max_line_bytes=4096)
        fsc = s3sc.file_copy()
        fs = fsc.run_json(check=0)
        az_dst = new_container(p, "mixed")
        gs_bucket = s3harness.new_bucket(gsp, "mixgs")
        cfg = base.config()
        cfg["s3"] = {"endpoint": s3p.endpoint}
        cfg["direct_subscribers"] = [
            {"org_id": o, "source": "s3://%s/%s/events/" % (s3sc.src_bucket, o)}
            for o, _ in base.sources]
        dests = {X: "az://%s/%s/out/" % (ACCOUNT, az_dst),
                 Y: {"url": "gs://%s/out/" % gs_bucket, "endpoint": gsp.endpoint},
                 Z: "file:out/"}
        subs = []
        for s in base.subs:
            s = dict(s)
            s["destination"] = dests[s["org_id"]]
            subs.append(s)
        cfg["additional_subscribers"] = subs
        s3sc.write_config(cfg)
        env = dict(os.environ)
        env.update({k: v for k, v in s3p.env().items()
                    if k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION")})
        env["AZURE_STORAGE_CONNECTION_STRING"] = p.az.connection_string()
        env["EVSHARE_STALL_TIMEOUT"] = "3"
        pr = subprocess.run([BIN, "-v", "-c", s3sc.path("evshare.json"), "run", "--json"],
                            env=env, capture_output=True, timeout=180)
        eq(pr.returncode, 0, "exit (stderr %s)" % pr.stderr.decode()[-2000:])
        assert_no_secret(pr, [s3harness.KEY[1]])
        s = json.loads(pr.stdout)
        check_summary(s, exp, [X, Y, Z])
        for k in ("files", "events"):
            eq(s[k], fs[k], "summary %s, mixed vs file://" % k)
        by_org = {so["org_id"]: so["objects"] for so in s["subscribers"]}
        assert by_org[X] and all(u.startswith("az://%s/%s/out/" % (ACCOUNT, az_dst))
                                 for u in by_org[X]), by_org[X]
        assert by_org[Y] and all(u.startswith("gs://%s/out/" % gs_bucket) for u in by_org[Y])
        assert by_org[Z] and all(u.startswith("file://") for u in by_org[Z])
        # read every output back from its own store
        az_lines = []
        for b in sorted(p.client.list_blobs(az_dst, "out/"),
                        key=lambda b: b["name"]):
            az_lines.extend(gzip_lines(p.client.get_blob(az_dst, b["name"])))
        gs_lines = []
        c = gsp.client()
        for key in sorted(gsp.list_keys(gs_bucket, "out/")):
            gs_lines.extend(gzip_lines(c.get_object(Bucket=gs_bucket, Key=key)["Body"].read()))
        file_lines = []
        for _, data in Scenario.objects(s3sc, Z, "out"):
            file_lines.extend(gzip_lines(data))
        eq(az_lines, exp.lines[X], "az:// subscriber lines")
        eq(gs_lines, exp.lines[Y], "gs:// subscriber lines")
        eq(file_lines, exp.lines[Z], "file:// subscriber lines")
        eq(az_lines, fsc.output_lines(X), "az:// lines equal a file:// run's")
        eq(gs_lines, fsc.output_lines(Y), "gs:// lines equal a file:// run's")
        eq(file_lines, fsc.output_lines(Z), "file:// lines equal a file:// run's")
        eq(s3p.stats()["rejected"] + gsp.stats()["rejected"], 0, "requests the peers rejected")
    finally:
        s3sc.cleanup()
        if fsc:
            fsc.cleanup()


def gzip_lines(data):
    import gzip
    text = gzip.decompress(data)
    assert text.endswith(b"\n")
    return text.split(b"\n")[:-1]


def stop_s3_peers():
    if "s3harness" in sys.modules:
        sys.modules["s3harness"].stop_peers()


if __name__ == "__main__":
    main(cleanup=[stop_s3_peers])
