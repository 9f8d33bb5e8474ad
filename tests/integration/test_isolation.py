#!/usr/bin/env python3
"""No tenant can read, lose or block another tenant's events: the
configurations, inputs and destinations of issue 13, each tried as an
attacker or a mistaken operator would, and shown refused or contained.

Runs on file:// locations (Debian's python3); s3:// and az:// locations
appear in configurations that `evshare check` judges without a network.
"""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Scenario, event, gz, lines, eq, test, TESTS, run_tests)  # noqa: E402


def check_config(cfg, sc):
    with open(sc.path("evshare.json"), "w") as f:
        json.dump(cfg, f)
    return sc.run("check")


def two_subscribers(dest_a, fmt_a, dest_b, fmt_b, link_b="TN-a"):
    subs = []
    for org, dest, fmt, link in (("TN-p1", dest_a, fmt_a, "TN-a"),
                                 ("TN-p2", dest_b, fmt_b, link_b)):
        s = {"org_id": org, "links": [link], "destination": dest}
        if fmt is not None:
            s["key_format"] = fmt
        subs.append(s)
    return {"state_dir": "state",
            "direct_subscribers": [{"org_id": "TN-a", "source": "s3://src-bucket/a/"},
                                   {"org_id": "TN-b", "source": "s3://src-bucket/b/"}],
            "additional_subscribers": subs}


# (destination, key_format) of two subscribers; None: the default format,
# which starts with {subscriber}.
COLLIDING = [
    ("s3://dest/", "{run_id}-{seq}", "s3://dest/", "{run_id}-{seq}"),
    ("s3://dest/", "x/{run_id}-{seq}", "s3://dest/x/", "{run_id}-{seq}"),
    ("s3://dest/in/", "{yyyy}/{run_id}-{seq}.gz", "s3://dest/in/", "{yyyy}/{run_id}-{seq}.gz"),
    ("s3://dest/TN-p2/", "{yyyy}/{mm}/{dd}/{run_id}-{seq}.ndjson.gz", "s3://dest/", None),
    ("s3://dest/", "TN-p2/{yyyy}/{mm}/{dd}/{run_id}-{seq}.ndjson.gz", "s3://dest/", None),
    ("s3://dest/", "{source}/{run_id}-{seq}", "s3://dest/TN-a/", "{run_id}-{seq}"),
    ("gs://gdest/p/", "{run_id}-{seq}", "gs://gdest/p/", "{run_id}-{seq}"),
    ("az://acct/cont/", "{run_id}-{seq}", "az://acct/cont/", "{run_id}-{seq}"),
    ("az://acct/cont/", "in/{hh}/{run_id}-{seq}", "az://acct/cont/in/", "{hh}/{run_id}-{seq}"),
    ("file:out/", "{run_id}-{seq}", "file:out/", "{run_id}-{seq}"),
    ("file:out/", "x/{run_id}-{seq}", "file:out/x/", "{run_id}-{seq}"),
    ("file:out/", "{run_id}-{seq}", "file:./out/../out/", "{run_id}-{seq}"),
    ({"url": "s3://dest/", "endpoint": "http://127.0.0.1:9000"}, "{run_id}-{seq}",
     {"url": "s3://dest/", "endpoint": "http://127.0.0.1:9000/"}, "{run_id}-{seq}"),
]

SEPARATE = [
    ("s3://dest/", None, "s3://dest/", None),
    ("s3://dest/", "{subscriber}/{run_id}-{seq}", "s3://dest/", "{subscriber}/{run_id}-{seq}"),
    ("s3://dest/a/", "{run_id}-{seq}", "s3://dest/b/", "{run_id}-{seq}"),
    ("s3://dest/", "{run_id}-{seq}", "s3://other/", "{run_id}-{seq}"),
    ("s3://dest/", "{run_id}-{seq}.json.gz", "s3://dest/", "{run_id}-{seq}.ndjson.gz"),
    ("s3://dest/", "x/{run_id}-{seq}", "s3://dest/y/", "{run_id}-{seq}"),
    ("s3://dest/", "{run_id}-{seq}", "gs://dest/", "{run_id}-{seq}"),
    ("gs://dest/p/", "{run_id}-{seq}", "gs://dest/q/", "{run_id}-{seq}"),
    ("az://acct/cont/", "{run_id}-{seq}", "az://acct/other/", "{run_id}-{seq}"),
    ("az://acct/cont/", "{run_id}-{seq}", "az://acct2/cont/", "{run_id}-{seq}"),
    ("az://acct/cont/", "{run_id}-{seq}", "s3://cont/", "{run_id}-{seq}"),
    ("file:out/", None, "file:out/", None),
    ("file:out/a/", "{run_id}-{seq}", "file:out/ab/", "{run_id}-{seq}"),
    ("file:out/", "{run_id}-{seq}", "s3://out/", "{run_id}-{seq}"),
    ({"url": "s3://dest/", "endpoint": "http://127.0.0.1:9000"}, "{run_id}-{seq}",
     {"url": "s3://dest/", "endpoint": "http://127.0.0.1:9001"}, "{run_id}-{seq}"),
]


@test
def test_check_refuses_subscribers_whose_keys_can_meet():
    sc = Scenario("collide")
    try:
        for i, (da, fa, db, fb) in enumerate(COLLIDING):
            p = check_config(two_subscribers(da, fa, db, fb), sc)
            err = p.stderr.decode()
            if p.returncode != 78 or "$.additional_subscribers[1].key_format" not in err \
                    or "same object keys" not in err or "TN-p1" not in err:
                raise AssertionError("colliding pair %d %r: exit %d\n%s" % (
                    i, (da, fa, db, fb), p.returncode, err))
        for i, (da, fa, db, fb) in enumerate(SEPARATE):
            p = check_config(two_subscribers(da, fa, db, fb), sc)
            if p.returncode != 0:
                raise AssertionError("separate pair %d %r: exit %d\n%s" % (
                    i, (da, fa, db, fb), p.returncode, p.stderr.decode()))
        assert len(COLLIDING) >= 10 and len(SEPARATE) >= 10
    finally:
        sc.cleanup()


@test
def test_colliding_subscribers_never_run():
    """The issue's run: two partners, one destination, a key_format without
    {subscriber}.  It no longer passes check, and run refuses it too
    (nothing is read, nothing is committed)."""
    sc = Scenario("collide-run")
    try:
        sc.direct("TN-a")
        sc.add_file("TN-a", "f1.ndjson.gz", gz(lines(event("e1", "TN-a"))))
        sc.additional("TN-p1", ["TN-a"], key_format="{run_id}-{seq}.ndjson.gz")
        sc.additional("TN-p2", ["TN-a"], key_format="{run_id}-{seq}.ndjson.gz")
        p = sc.run("run", check=78)
        assert b"same object keys" in p.stderr, p.stderr
        assert not os.path.exists(sc.path("out")), os.listdir(sc.dir)
        assert not os.path.exists(sc.path("state", "state.json"))
    finally:
        sc.cleanup()


@test
def test_destination_inside_a_source_is_refused():
    """file:src/a/out/ for a subscriber linked to file:src/a/ fed its
    outputs back in (3 events became 12 lines after four runs)."""
    sc = Scenario("feedback")
    try:
        rel = sc.direct("TN-a")
        sc.add_file("TN-a", "f1.ndjson.gz",
                    gz(lines(event("e1", "TN-a"), event("e2", "TN-a"), event("e3", "TN-a"))))
        sc.additional("TN-p1", ["TN-a"], destination="file:" + rel + "out/")
        p = sc.run("check", check=78)
        err = p.stderr.decode()
        assert "$.additional_subscribers[0].destination" in err and "overlaps the source" in err, err
        for _ in range(4):
            sc.run("run", check=78)
        assert not os.path.exists(sc.path(rel, "out")), "a run wrote into the source"
        # every other way one location can touch another: a destination
        # holding a source, a source holding another's, the state inside
        for cfg_change, path in (
                (lambda c: c["additional_subscribers"][0].update(destination="file:buckets/"),
                 "$.additional_subscribers[0].destination"),
                (lambda c: c["direct_subscribers"].append(
                    {"org_id": "TN-b", "source": "file:" + rel + "b/"}),
                 "$.direct_subscribers[1].source"),
                (lambda c: c.update(state_dir=rel + "state"), "$.state_dir"),
                (lambda c: c["additional_subscribers"][0].update(destination="file:state/out/"),
                 "$.state_dir")):
            cfg = sc.config()
            cfg["additional_subscribers"][0]["destination"] = "file:out/"
            cfg_change(cfg)
            p = check_config(cfg, sc)
            assert p.returncode == 78 and path in p.stderr.decode(), (path, p.stderr)
        # s3:// and az:// too, without a network
        for src, dest in (("s3://bkt/a/", "s3://bkt/a/out/"), ("s3://bkt/a/", "s3://bkt/"),
                          ("az://acct/cont/a/", "az://acct/cont/a/x/")):
            cfg = {"state_dir": "state",
                   "direct_subscribers": [{"org_id": "TN-a", "source": src}],
                   "additional_subscribers": [{"org_id": "TN-p1", "links": ["TN-a"],
                                               "destination": dest}]}
            p = check_config(cfg, sc)
            assert p.returncode == 78 and b"overlaps the source" in p.stderr, (src, dest, p.stderr)
    finally:
        sc.cleanup()


def gz_stream(chunks):
    """gzip of an iterable of byte strings, without holding the input."""
    import zlib
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
    out = [z.compress(c) for c in chunks]
    out.append(z.flush())
    return b"".join(out)


def poisoned_records(sc):
    st = json.load(open(sc.path("state", "state.json")))
    return {f["key"]: f for src in st["sources"].values() for f in src["files"]
            if f.get("poisoned")}


@test
def test_a_pasted_sas_url_as_endpoint_is_refused_without_its_signature():
    """A portal's "SAS URL" pasted as an endpoint was echoed whole in
    errors; it is refused by check, the message cut at the '?'."""
    sc = Scenario("sasurl")
    try:
        secret = "sig=Zm9vYmFyc2VjcmV0c2lnbmF0dXJlMTIzNDU2Nzg5"
        for loc in ({"url": "az://acct/cont/out/",
                     "endpoint": "https://acct.blob.core.windows.net/?sv=2022-11-02&" + secret},
                    {"url": "s3://dest/out/", "endpoint": "https://s3.example.net/?" + secret}):
            cfg = {"state_dir": "state",
                   "direct_subscribers": [{"org_id": "TN-a", "source": "s3://src/a/"}],
                   "additional_subscribers": [{"org_id": "TN-p1", "links": ["TN-a"],
                                               "destination": loc}]}
            p = check_config(cfg, sc)
            err = p.stderr.decode()
            eq(p.returncode, 78, "refused: %s" % err)
            assert "$.additional_subscribers[0].destination.endpoint" in err, err
            assert "must not have a query" in err and secret not in err and "sig=" not in err, err
        cfg = {"state_dir": "state", "s3": {"endpoint": "https://s3.example.net/x?" + secret},
               "direct_subscribers": [{"org_id": "TN-a", "source": "s3://src/a/"}],
               "additional_subscribers": [{"org_id": "TN-p1", "links": ["TN-a"],
                                           "destination": "s3://dest/out/"}]}
        p = check_config(cfg, sc)
        eq(p.returncode, 78, "refused")
        assert b"$.s3.endpoint" in p.stderr and b"sig=" not in p.stderr, p.stderr
    finally:
        sc.cleanup()


@test
def test_gzip_bombs_are_poisoned_within_the_bounds():
    """A few KB of gzip used to fill the disk: 9.7 KB of short bad lines
    made a 1.07 GB quarantine, 970 KB of one newline-less 1 GB line 1.33 GB
    of base64.  Each bomb is now poisoned at once, within its bound, its
    records dropped, and the other tenant is delivered in the same run."""
    sc = Scenario("bombs")
    try:
        sc.direct("TN-a")
        sc.direct("TN-b")
        bad_lines = gz(b"x\n" * 5000000)                       # 10 MB of "x"
        assert len(bad_lines) < 16 * 1024, len(bad_lines)
        sc.add_file("TN-a", "a1-bad-lines.gz", bad_lines)
        one_line = gz_stream(b"a" * (1 << 20) for _ in range(1024))   # 1 GiB, one line
        assert len(one_line) < 1100 * 1024, len(one_line)
        sc.add_file("TN-a", "a2-one-line.gz", one_line)
        # good lines first, then a flood: part was read before it failed
        good = [event("a-%d" % i, "TN-a") for i in range(100)]
        sc.add_file("TN-a", "a3-mixed.gz", gz(lines(*good) + b"{bad\n" * 400000))
        import random
        rnd = random.Random(7)
        # a long bad line that is no bomb: kept as a bounded prefix with
        # its digest and length, and the good event next to it goes out
        long_line = bytes(rnd.getrandbits(8) | 0x80 for _ in range(300000))
        sc.add_file("TN-a", "a5-long-line.gz",
                    gz(long_line + b"\n" + lines(event("a-long-ok", "TN-a"))))
        sc.add_file("TN-b", "b1.gz", gz(lines(*[event("b-%d" % i, "TN-b") for i in range(50)])))
        sc.additional("TN-p1", ["TN-a", "TN-b"])
        sc.extra.update(max_quarantine_per_file=1 << 20, max_line_bytes=100000,
                        quarantine_line_bytes=4096)
        import time
        t0 = time.time()
        summary = sc.run_json(check=1)
        elapsed = time.time() - t0
        assert elapsed < 60, elapsed
        eq(summary["status"], "partial", "status")
        poisoned = poisoned_records(sc)
        eq(sorted(poisoned), ["a1-bad-lines.gz", "a2-one-line.gz", "a3-mixed.gz"],
           "poisoned at once")
        assert "max_quarantine_per_file" in poisoned["a1-bad-lines.gz"]["last_error"]
        assert "max_inflate_ratio" in poisoned["a2-one-line.gz"]["last_error"]
        assert "max_quarantine_per_file" in poisoned["a3-mixed.gz"]["last_error"]
        for f in poisoned.values():
            eq(f["failures"], 1, "poisoned on the first failure")
        # nothing of the bombs went out; the rest did, in the same run
        got = [json.loads(l)["event_id"] for l in sc.output_lines("TN-p1")]
        eq(got, ["a-long-ok"] + ["b-%d" % i for i in range(50)], "delivered")
        # the quarantine holds only the long line, cut to 4 KiB
        q = sc.quarantine()
        eq(len(q), 1, "quarantine records")
        rec = q[0]
        eq(rec["bytes"], len(long_line), "bytes")
        assert rec["truncated"] is True
        import base64
        import hashlib
        eq(base64.b64decode(rec["base64"]), long_line[:4096], "kept prefix")
        eq(rec["sha256"], hashlib.sha256(long_line).hexdigest(), "sha256")
        qsize = sum(os.path.getsize(os.path.join(sc.path("state", "quarantine"), f))
                    for f in os.listdir(sc.path("state", "quarantine")))
        assert qsize < 8192, qsize
        eq(summary["files"]["poisoned"], 3, "files.poisoned")
        eq(summary["events"]["malformed"], 1, "malformed (the long line)")
        # the next run skips them and has nothing to do
        again = sc.run_json(check=0)
        eq(again["files"]["planned"], 0, "planned")
    finally:
        sc.cleanup()


@test
def test_a_file_past_max_file_bytes_is_poisoned():
    """Valid events, but more decompressed bytes than max_file_bytes (with
    a ratio no bomb has): poisoned at once, nothing of it delivered."""
    sc = Scenario("filebytes")
    try:
        sc.direct("TN-a")
        big = lines(*[event("big-%d" % i, "TN-a", data={"pad": os.urandom(500).hex()})
                      for i in range(2500)])
        assert len(big) > 2 << 20, len(big)
        sc.add_file("TN-a", "a-too-big.gz", gzip.compress(big, compresslevel=1))
        sc.add_file("TN-a", "b-fine.gz", gz(lines(event("fine", "TN-a"))))
        sc.additional("TN-p1", ["TN-a"])
        sc.extra.update(max_file_bytes=1 << 20)
        summary = sc.run_json(check=1)
        eq(summary["files"]["poisoned"], 1, "poisoned")
        eq(summary["files"]["processed"], 1, "processed")
        assert "max_file_bytes (1048576 bytes)" in \
            poisoned_records(sc)["a-too-big.gz"]["last_error"]
        got = [json.loads(l)["event_id"] for l in sc.output_lines("TN-p1")]
        eq(got, ["fine"], "delivered")
    finally:
        sc.cleanup()


@test
def test_a_spent_run_quarantine_defers_the_rest_to_the_next_run():
    """Files under max_quarantine_per_file that together pass
    max_quarantine_per_run: the file that passes it and those after it
    wait for the next run (not failed, not poisoned), which takes them."""
    sc = Scenario("runcap")
    try:
        sc.direct("TN-a")
        for i in range(4):
            # about 25 KiB of quarantine records each, and one good event
            body = lines(event("e-%d" % i, "TN-a")) + b"{bad %d}\n" % i * 100
            sc.add_file("TN-a", "f%d.gz" % i, gz(body))
        sc.additional("TN-p1", ["TN-a"])
        sc.extra.update(max_quarantine_per_file=64 << 10, max_quarantine_per_run=64 << 10)
        first = sc.run_json(check=1)
        eq(first["files"]["processed"], 2, "processed")
        eq(first["files"]["deferred"], 2, "deferred")
        eq(first["files"]["failed"], 0, "failed")
        eq(first["files"]["poisoned"], 0, "poisoned")
        second = sc.run_json(check=0)
        eq(second["files"]["processed"], 2, "processed next run")
        got = [json.loads(l)["event_id"] for l in sc.output_lines("TN-p1")]
        eq(got, ["e-0", "e-1", "e-2", "e-3"], "every event once, in order")
        eq(len(sc.quarantine()), 400, "every bad line quarantined once")
    finally:
        sc.cleanup()


def event_ids(sc, sub, dest):
    return [json.loads(l)["event_id"] for l in sc.output_lines(sub, dest)]


def state_json(sc):
    with open(sc.path("state", "state.json")) as f:
        return json.load(f)


@test
def test_one_broken_destination_blocks_no_other_partner():
    """A destination bucket typo failed the run; the interrupted plan
    replayed its saved config, so fixing the config did not help, and the
    partners whose buckets were fine got nothing.  Now the broken one's
    outputs stay owed while the other is delivered in the same run, every
    run tries again (counted, then reported as stuck), and the fixed
    config finishes them without doubling anyone's events."""
    sc = Scenario("brokendest")
    try:
        sc.direct("TN-a")
        sc.direct("TN-b")
        sc.add_file("TN-a", "a1.gz", gz(lines(*[event("a1-%d" % i, "TN-a") for i in range(5)])))
        sc.add_file("TN-b", "b1.gz", gz(lines(*[event("b1-%d" % i, "TN-b") for i in range(5)])))
        sc.additional("TN-p1", ["TN-a", "TN-b"], destination="file:typo/")
        sc.additional("TN-p2", ["TN-a", "TN-b"], destination="file:out2/")
        with open(sc.path("typo"), "w") as f:
            f.write("not a directory: every put under it fails")
        first = sc.run_json(check=1)
        eq(first["status"], "partial", "status")
        subs = {s["org_id"]: s for s in first["subscribers"]}
        eq(subs["TN-p1"]["status"], "failed", "p1")
        eq(subs["TN-p2"]["status"], "ok", "p2")
        every1 = ["a1-%d" % i for i in range(5)] + ["b1-%d" % i for i in range(5)]
        eq(event_ids(sc, "TN-p2", "out2"), every1, "the other partner, in the same run")
        eq([p["subscribers"] for p in state_json(sc)["pending"]], [["TN-p1"]], "owed")
        # newer files: p2 gets them, p1's wait behind its owed outputs
        for n in (2, 3):
            sc.add_file("TN-a", "a%d.gz" % n, gz(lines(event("a%d" % n, "TN-a"))))
            later = sc.run_json(check=1)
            eq(later["pending_parts"][0]["subscribers"][0]["status"], "failed", "retried")
            eq([s["org_id"] for s in later["subscribers"] if s["events"]], ["TN-p2"],
               "only p2 served")
        eq(state_json(sc)["pending"][0]["attempts"], 3, "attempts counted")
        eq([(x["org_id"], x["attempts"]) for x in later["stuck_subscribers"]],
           [("TN-p1", 3)], "stuck after max_attempts")
        p = sc.run("state", "show", check=0)
        assert b"outputs owed to TN-p1" in p.stdout and b"STUCK" in p.stdout, p.stdout
        eq(event_ids(sc, "TN-p2", "out2"), every1 + ["a2", "a3"], "p2 every event once")
        # the operator fixes the typo in the config: the owed outputs go to
        # the destination configured now, then p1's newer files follow
        cfg = sc.config()
        cfg["additional_subscribers"][0]["destination"] = "file:out1/"
        sc.write_config(cfg)
        fixed = sc.run_json(check=0)
        eq(fixed["pending_parts"][0]["committed"], True, "the owed outputs delivered")
        eq(event_ids(sc, "TN-p1", "out1"), every1 + ["a2", "a3"], "p1 every event once")
        eq(event_ids(sc, "TN-p2", "out2"), every1 + ["a2", "a3"], "p2 untouched")
        assert "pending" not in state_json(sc)
        eq(sc.run_json(check=0)["files"]["planned"], 0, "nothing left")
    finally:
        sc.cleanup()


@test
def test_a_destination_that_fails_midway_is_finished_without_doubles():
    """Objects of the failed subscriber already visible are put again under
    the same keys with the same bytes, so a partner sees each event once."""
    sc = Scenario("midway")
    try:
        sc.direct("TN-a")
        for n in range(3):
            sc.add_file("TN-a", "a%d.gz" % n, gz(lines(
                *[event("a%d-%03d-%s" % (n, i, "x" * 200), "TN-a") for i in range(300)])))
        # an object per folder, so that the second one can be made to fail
        sc.additional("TN-p1", ["TN-a"], key_format="o/{seq}/{run_id}-{seq}.ndjson.gz",
                      max_object_bytes=4096, compression_level=1)
        sc.additional("TN-p2", ["TN-a"], destination="file:out2/")
        os.makedirs(sc.path("out", "o"))
        with open(sc.path("out", "o", "000002"), "w") as f:
            f.write("blocks the second object")
        sc.run_json(check=1)
        visible = [(k, d) for k, d in sc.objects(None) if k.endswith(".ndjson.gz")]
        eq(len(visible), 1, "the first object was put before the failure")
        first_bytes = visible[0][1]
        os.remove(sc.path("out", "o", "000002"))
        sc.run_json(check=0)
        got = event_ids(sc, None, "out")
        want = ["a%d-%03d-%s" % (n, i, "x" * 200) for n in range(3) for i in range(300)]
        eq(got, want, "every event once, in order")
        eq(sc.objects(None)[0][1], first_bytes, "the first object put again, identical")
        eq(event_ids(sc, None, "out2"), want, "the other partner")
    finally:
        sc.cleanup()


@test
def test_owed_outputs_can_be_dropped_or_go_with_their_subscriber():
    """state forget --pending ORG drops what is owed (the files are read for
    it again by a new run); a subscriber taken out of the config takes its
    owed outputs with it."""
    sc = Scenario("dropowed")
    try:
        sc.direct("TN-a")
        sc.add_file("TN-a", "a1.gz", gz(lines(event("a1", "TN-a"))))
        sc.additional("TN-p1", ["TN-a"], destination="file:typo/")
        sc.additional("TN-p2", ["TN-a"], destination="file:out2/")
        with open(sc.path("typo"), "w") as f:
            f.write("x")
        sc.run_json(check=1)
        sc.run("state", "forget", "--pending", "TN-nobody", check=64)
        p = sc.run("state", "forget", "--pending", "TN-p1", check=0)
        assert b"may reach it twice" in p.stderr, p.stderr
        assert "pending" not in state_json(sc)
        assert not os.listdir(sc.path("state", "parts")), "the part's plan is gone"
        os.remove(sc.path("typo"))
        again = sc.run_json(check=0)
        eq(again["files"]["planned"], 1, "read again for p1")
        eq(event_ids(sc, "TN-p1", "typo"), ["a1"], "p1 once")
        eq(event_ids(sc, "TN-p2", "out2"), ["a1"], "p2 once")
        # a part whose plan cannot be read: told, counted, the others go on
        sc.add_file("TN-a", "a1b.gz", gz(lines(event("a1b", "TN-a"))))
        import shutil
        shutil.rmtree(sc.path("typo"))
        with open(sc.path("typo"), "w") as f:
            f.write("x")
        sc.run_json(check=1)
        (part,) = os.listdir(sc.path("state", "parts"))
        with open(sc.path("state", "parts", part), "w") as f:
            f.write("{not json")
        sc.add_file("TN-a", "a1c.gz", gz(lines(event("a1c", "TN-a"))))
        p = sc.run("run", "--json", check=1)
        assert b"cannot be finished" in p.stderr and b"forget --pending" in p.stderr, p.stderr
        eq(json.loads(p.stdout)["pending_parts"][0]["status"], "failed", "the part")
        eq(state_json(sc)["pending"][0]["attempts"], 2, "counted")
        eq(event_ids(sc, "TN-p2", "out2"), ["a1", "a1b", "a1c"], "p2 goes on")
        sc.run("state", "forget", "--pending", "TN-p1", check=0)
        os.remove(sc.path("typo"))
        sc.run_json(check=0)
        # (a1's object went with the directory the test removed)
        eq(event_ids(sc, "TN-p1", "typo"), ["a1b", "a1c"], "p1 once each")
        # now p1 fails again and is then removed from the config
        sc.add_file("TN-a", "a2.gz", gz(lines(event("a2", "TN-a"))))
        shutil.rmtree(sc.path("typo"))
        with open(sc.path("typo"), "w") as f:
            f.write("x")
        sc.run_json(check=1)
        cfg = sc.config()
        del cfg["additional_subscribers"][0]
        sc.write_config(cfg)
        p = sc.run("run", check=0)
        assert b"no longer configured" in p.stderr, p.stderr
        assert "pending" not in state_json(sc)
        eq(event_ids(sc, "TN-p2", "out2"), ["a1", "a1b", "a1c", "a2"], "p2 untouched")
    finally:
        sc.cleanup()


@test
def test_empty_missing_and_out_of_window_sources():
    """A source that lists no files, a prefix that does not exist, a source
    whose files all fall outside --since/--until, and a symlinked source
    root, next to a good source (a listing of none used to abort the
    sanitizer build: qsort(NULL, 0))."""
    import time
    sc = Scenario("empties")
    outside = sc.path("elsewhere")
    try:
        sc.direct("TN-empty")
        sc.direct("TN-good")
        sc.direct("TN-old")
        sc.sources.append(("TN-missing", "buckets/TN-missing/events/"))
        sc.files["TN-missing"] = []
        os.makedirs(outside)
        with open(os.path.join(outside, "x.gz"), "wb") as f:
            f.write(gz(lines(event("via-link", "TN-linked"))))
        os.symlink(outside, sc.path("linkroot"))
        sc.sources.append(("TN-linked", "linkroot/"))
        sc.files["TN-linked"] = []
        sc.add_file("TN-good", "g.gz", gz(lines(event("g1", "TN-good"))))
        sc.add_file("TN-old", "o.gz", gz(lines(event("o1", "TN-old"))), age_s=3 * 86400)
        sc.additional("TN-p1", ["TN-empty", "TN-good", "TN-old", "TN-missing", "TN-linked"])
        since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
        p = sc.run("list", check=0)
        assert b"g.gz" in p.stdout and b"o.gz" in p.stdout, p.stdout
        s = sc.run_json("--since", since, check=1)
        failed = {f["url"]: f["reason"] for f in s["failed_sources"]}
        eq(len(failed), 2, "the missing prefix and the linked root cannot be listed")
        assert any("symbolic link" in r for r in failed.values()), failed
        eq(event_ids(sc, "TN-p1", "out"), ["g1"], "the good source, in the window")
        s2 = sc.run_json(check=1)
        eq(event_ids(sc, "TN-p1", "out"), ["g1", "o1"], "the old one without the window")
        eq(s2["files"]["processed"], 1, "processed")
    finally:
        sc.cleanup()


@test
def test_a_late_file_below_the_horizon_is_told_and_counted():
    """A file written late (or copied with an old time) whose last-modified
    time is older than the horizon was skipped without a word.  It is still
    not read, but named at warning level and counted."""
    import time
    sc = Scenario("late")
    try:
        sc.direct("TN-a")
        sc.add_file("TN-a", "a1.gz", gz(lines(event("a1", "TN-a"))), age_s=0)
        sc.additional("TN-p1", ["TN-a"])
        sc.extra["lookback"] = "1m"
        sc.run_json(check=0)
        # older than the horizon (run start - 1 minute) the run just left
        sc.add_file("TN-a", "late.gz", gz(lines(event("late", "TN-a"))), age_s=600)
        sc.add_file("TN-a", "a2.gz", gz(lines(event("a2", "TN-a"))), age_s=0)
        p = sc.run("--log-format", "json", "run", "--json", check=0)
        s = json.loads(p.stdout)
        eq(s["files"]["late"], 1, "files.late")
        assert s["late_files"][0]["url"].endswith("/late.gz"), s["late_files"]
        warnings = [json.loads(l) for l in p.stderr.splitlines() if b"horizon" in l]
        assert any(w["level"] == "warning" and w["url"].endswith("/late.gz")
                   for w in warnings), p.stderr
        eq(event_ids(sc, "TN-p1", "out"), ["a1", "a2"], "not read")
        # told once: the next run has seen it, and so has an idle one
        s3 = sc.run_json(check=0)
        eq(s3["files"]["late"], 0, "not told again")
        sc.add_file("TN-a", "late2.gz", gz(lines(event("late2", "TN-a"))), age_s=900)
        s4 = sc.run_json(check=0)
        eq((s4["files"]["planned"], s4["files"]["late"]), (0, 1), "told by an idle run")
        s5 = sc.run_json(check=0)
        eq(s5["files"]["late"], 0, "once")
    finally:
        sc.cleanup()


if __name__ == "__main__":
    run_tests(TESTS)
