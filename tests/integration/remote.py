"""What the suites of the remote stores (test_s3.py, test_az.py) share:
the checks of output lines, large events, the fault scenario, and (from
test_core.py, where file:// uses it too) the end of the core scenario.
Each takes the suite's scenario class or its scenario, so one copy serves
s3:// and az:// alike."""
import base64
import json
import random
import re
import zlib

import harness
from harness import Scenario, event, gz, lines
import reference
from test_core import (sub_tuples, random_events, retried_fixed_then_idle,  # noqa: F401
                       A, X)


def owed(sc):
    """The subscribers the state says a run still owes outputs to (their
    destination failed; the next run finishes them)."""
    text = harness.read_state(sc)
    st = json.loads(text) if text else {}
    return [s for part in st.get("pending", []) for s in part["subscribers"]]


def check_lines(sc, exp, subs, what=""):
    for s in subs:
        got = sc.output_lines(s)
        if got != exp.lines[s]:
            raise AssertionError("%soutput lines of %s: got %d, expected %d" % (
                what, s, len(got), len(exp.lines[s])))


def big_events(rnd, org, n, prefix, width=3000):
    """Events of about `width` bytes whose random blob barely compresses."""
    return [event("%s-%06d" % (prefix, i), org,
                  data={"blob": base64.b64encode(rnd.randbytes(width * 3 // 4)).decode()})
            for i in range(n)]


def without_run_id(objects):
    """[(key with the run id as RUN, bytes)]: two runs of one plan differ only there."""
    return [(re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{8}", "RUN", k), d) for k, d in objects]


def fault_scenario(name, p, remote_scenario, big=True):
    """One source: two small files and (big) a ~1.3 MB one; one subscriber;
    uploaded to the peer p through remote_scenario (S3Scenario, AzScenario)."""
    base = Scenario(name)
    base.direct(A)
    rnd = random.Random(zlib.crc32(name.encode()))
    base.add_file(A, "1-small.ndjson.gz", gz(lines(*random_events(rnd, A, 30, name + "-a"))))
    if big:
        base.add_file(A, "2-big.ndjson.gz", gz(lines(*big_events(rnd, A, 600, name + "-b"))))
    base.add_file(A, "3-small.ndjson", lines(*random_events(rnd, A, 10, name + "-c")))
    base.additional(X, [A])
    sc = remote_scenario(base, p)
    sc.upload()
    return sc, reference.expected(sc.expected_inputs(), sub_tuples(sc))


def late_crc_scenario(name, p, remote_scenario):
    """One source: a small good file, then a ~12.6 MB one whose last CRC is
    wrong; one subscriber, one object, 5 MiB parts (blocks) from 5 MiB on:
    parts go out while the bad file is read.  Returns (scenario, the good
    file's events)."""
    base = Scenario(name)
    base.direct(A)
    rnd = random.Random(12)
    good = big_events(rnd, A, 40, "good")
    data = gz(lines(*big_events(rnd, A, 5600, "late")))
    base.add_file(A, "1-good.ndjson.gz", gz(lines(*good)))
    base.add_file(A, "2-bad.ndjson.gz", data[:-8] + bytes([data[-8] ^ 1]) + data[-7:])
    base.additional(X, [A], max_object_bytes=1 << 30)
    sc = remote_scenario(base, p)
    sc.dst_extra = {"part_size": 5 << 20, "multipart_threshold": 5 << 20}
    sc.upload()
    return sc, good


def run_late_crc(sc):
    """Run a late_crc_scenario; check what does not depend on the store:
    the run starts over without the bad file, and only the good file's
    lines come out, in one object.  Returns the peer's requests."""
    sc.peer.reset_stats()
    r = sc.run("run", "--json", check=1)
    s = json.loads(r.stdout)
    assert b"starts over" in r.stderr, r.stderr
    if s["files"]["failed"] != 1:
        raise AssertionError("failed files: %r" % s["files"])
    return sc.peer.requests()


def check_late_crc_output(sc, good):
    got = sc.output_lines(X)
    if got != good:
        raise AssertionError("output lines: got %d, expected the good file's %d"
                             % (len(got), len(good)))
    if len(sc.objects(X)) != 1:
        raise AssertionError("objects: %r" % [k for k, _ in sc.objects(X)])
