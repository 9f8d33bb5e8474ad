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
        for src, dest in (("s3://b/a/", "s3://b/a/out/"), ("s3://b/a/", "s3://b/"),
                          ("az://acct/c/a/", "az://acct/c/a/x/")):
            cfg = {"state_dir": "state",
                   "direct_subscribers": [{"org_id": "TN-a", "source": src}],
                   "additional_subscribers": [{"org_id": "TN-p1", "links": ["TN-a"],
                                               "destination": dest}]}
            p = check_config(cfg, sc)
            assert p.returncode == 78 and b"overlaps the source" in p.stderr, (src, dest, p.stderr)
    finally:
        sc.cleanup()


if __name__ == "__main__":
    run_tests(TESTS)
