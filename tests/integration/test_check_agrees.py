#!/usr/bin/env python3
"""`evshare check` says what `evshare run` would refuse: every setting a
store validates is validated when the configuration loads, so a config
that run refuses with 78 is refused by check too, at the same JSON path,
with the same words, before any network or credential is touched.

A table of bad configurations, one per setting a store checks (bucket,
account and container names, region, path style, every form of a bad
endpoint, part size, threshold, retries, upload streams, for each kind of
location and for the "s3" defaults): check and run must both exit 78 and
name the path; run must have written nothing.  Debian's python3 runs it.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Scenario, eq, test, TESTS, run_tests  # noqa: E402

MIB = 1 << 20


def config(source=None, destination=None, s3=None):
    cfg = {"state_dir": "state",
           "direct_subscribers": [{"org_id": "TN-a",
                                   "source": source or "s3://good-source/a/"}],
           "additional_subscribers": [{"org_id": "TN-p1", "links": ["TN-a"],
                                       "destination": destination or "s3://good-dest/out/"}]}
    if s3 is not None:
        cfg["s3"] = s3
    return cfg


SRC = "$.direct_subscribers[0].source"
DST = "$.additional_subscribers[0].destination"

# (name, config, JSON path, words of the message)
CASES = [
    ("s3 bucket too short", config(source="s3://ab/x/"), SRC, "fewer than 3 characters"),
    ("s3 bucket starting with '-'", config(destination="s3://-bucket/x/"), DST,
     "must start and end with a letter or a digit"),
    ("s3 bucket too long", config(destination="s3://" + "b" * 256 + "/"), DST,
     "more than 255 characters"),
    ("gs bucket label too long", config(destination="gs://" + "g" * 64 + ".example/"), DST,
     "more than 63 characters between dots"),
    ("az account name", config(destination="az://ab/container/"), DST,
     "is not a storage account name"),
    ("az container name", config(destination="az://account1/Co/"), DST,
     "is not a container name"),
    ("region", config(destination={"url": "s3://good-dest/x/", "region": "US_EAST_1"}),
     DST + ".region", "is not a region name"),
    ("path style off for a bucket that is no host name",
     config(destination={"url": "s3://my_bucket/x/", "path_style": False}),
     DST + ".path_style", "path-style only"),
    # $.s3's path_style is good for $.s3 yet wrong for this bucket: told at
    # the location (it once slipped through untold, and loading crashed)
    ("path style off in $.s3 for a bucket that is no host name",
     config(source="s3://my_bucket/in/", s3={"path_style": False}),
     SRC, "(its path_style is $.s3's)"),
    ("endpoint without a scheme", config(source={"url": "s3://good-source/a/",
                                                 "endpoint": "s3.example.net"}),
     SRC + ".endpoint", "must start with http:// or https://"),
    ("endpoint with a password", config(destination={"url": "s3://good-dest/x/",
                                                     "endpoint": "https://u:p@s3.example.net"}),
     DST + ".endpoint", "user name or password"),
    ("endpoint without a host", config(destination={"url": "s3://good-dest/x/",
                                                    "endpoint": "https://"}),
     DST + ".endpoint", "has no host"),
    ("endpoint with a bad host", config(destination={"url": "s3://good-dest/x/",
                                                     "endpoint": "https://s3 example.net"}),
     DST + ".endpoint", "invalid character in the host"),
    ("endpoint with a query (a SAS URL)",
     config(destination={"url": "az://account1/container/",
                         "endpoint": "https://account1.blob.core.windows.net/?sv=1&sig=SECRET"}),
     DST + ".endpoint", "must not have a query"),
    ("endpoint with a fragment", config(destination={"url": "s3://good-dest/x/",
                                                     "endpoint": "https://s3.example.net/#x"}),
     DST + ".endpoint", "must not have a query or a fragment"),
    ("endpoint path not plain", config(destination={"url": "az://account1/container/",
                                                    "endpoint": "http://127.0.0.1:10000/a b"}),
     DST + ".endpoint", "its path must be plain"),
    ("s3 part size over 5 GiB", config(destination={"url": "s3://good-dest/x/",
                                                    "part_size": 6 << 30}),
     DST + ".part_size", "outside 5 MiB..5 GiB"),
    ("s3 part size under 5 MiB", config(destination={"url": "s3://good-dest/x/",
                                                     "part_size": MIB}),
     DST + ".part_size", "outside 5 MiB..5 GiB"),
    ("azure block over 4000 MiB (check used to pass it)",
     config(destination={"url": "az://account1/container/", "part_size": 4500 * MIB}),
     DST + ".part_size", "Azure's largest block"),
    ("multipart threshold", config(destination={"url": "s3://good-dest/x/",
                                                "multipart_threshold": MIB}),
     DST + ".multipart_threshold", "outside 5 MiB..5 TiB"),
    ("retries", config(destination={"url": "az://account1/container/", "retries": 21}),
     DST + ".retries", "outside 1..20"),
    ("upload streams", config(destination={"url": "s3://good-dest/x/", "upload_streams": 17}),
     DST + ".upload_streams", "outside 1..16"),
    ("$.s3 region", config(s3={"region": "eu west 1"}), "$.s3.region", "is not a region name"),
    ("$.s3 endpoint", config(s3={"endpoint": "ftp://s3.example.net"}), "$.s3.endpoint",
     "must start with http:// or https://"),
    ("$.s3 part size", config(s3={"part_size": 6 << 30}), "$.s3.part_size",
     "outside 5 MiB..5 GiB"),
    ("a file: location's upload streams", config(destination={"url": "file:out/",
                                                              "upload_streams": 99}),
     DST + ".upload_streams", "outside 1..16"),
]


@test
def test_check_refuses_what_run_refuses_at_the_same_path():
    assert len(CASES) >= 20
    sc = Scenario("agree")
    try:
        for name, cfg, path, words in CASES:
            with open(sc.path("evshare.json"), "w") as f:
                json.dump(cfg, f)
            lines = {}
            for cmd in ("check", "run"):
                p = sc.run(cmd)
                err = p.stderr.decode(errors="replace")
                if p.returncode != 78:
                    raise AssertionError("%s: %s exited %d, not 78\n%s" % (name, cmd,
                                                                           p.returncode, err))
                hits = [l for l in err.splitlines() if (path + ": ") in l and words in l]
                if not hits:
                    raise AssertionError("%s: %s does not name %s (%s)\n%s" % (
                        name, cmd, path, words, err))
                lines[cmd] = sorted(err.splitlines())
                assert "SECRET" not in err, err
            eq(lines["run"], lines["check"], "%s: run and check say the same" % name)
            eq(os.path.exists(sc.path("state")), False, "%s: run made no state" % name)
    finally:
        sc.cleanup()


@test
def test_a_good_config_passes_both():
    """The table's good locations pass: nothing above is refused for the
    wrong reason."""
    sc = Scenario("agree-good")
    try:
        with open(sc.path("evshare.json"), "w") as f:
            json.dump(config(destination={"url": "az://account1/container/x/",
                                          "part_size": 8 * MIB, "upload_streams": 16,
                                          "endpoint": "http://127.0.0.1:10000/account1"}), f)
        p = sc.run("check")
        eq(p.returncode, 0, "check: %s" % p.stderr.decode())
    finally:
        sc.cleanup()


if __name__ == "__main__":
    run_tests(TESTS)
