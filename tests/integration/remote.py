"""What the suites of the remote stores (test_s3.py, test_az.py) share:
the checks of output lines, large events, the fault scenario, and the end
of the core scenario (a failed file retried, then fixed, then an idle run).
Each takes the suite's scenario class or its scenario, so one copy serves
s3:// and az:// alike."""
import base64
import random
import re
import zlib

from harness import Scenario, event, gz, lines, eq, read_state
import reference
from test_core import sub_tuples, random_events, A, B, X, Y, Z


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


def retried_fixed_then_idle(sc, exp):
    """The end of the core scenario, after its first run: the truncated file
    is retried and fails again with nothing else moving; once its producer
    completes it, it is read once in a new run; then a run finds nothing,
    writes nothing and leaves the state alone."""
    before = sc.snapshot()
    s2 = sc.run_json(check=1)
    eq(s2["files"]["planned"], 1, "only the failed file is planned again")
    eq(sc.snapshot(), before, "outputs after the retry")
    key = "2026/11/27/b-truncated.ndjson.gz"
    data = gz(lines(*random_events(random.Random(7), B, 50, "b-fixed")))
    sc.put_source(B, key, data)
    s3 = sc.run_json(check=0)
    eq(s3["files"]["processed"], 1, "the fixed file is processed")
    exp3 = reference.expected([(B, [(key, data)])], sub_tuples(sc), max_line_bytes=4096)
    for sub in (X, Y, Z):
        got = [ln for ln in sc.output_lines(sub) if ln not in exp.lines[sub]]
        eq(got, exp3.lines[sub], "lines of the fixed file for " + sub)
    before = sc.snapshot()
    state_before = read_state(sc)
    s4 = sc.run_json(check=0)
    eq(s4["files"]["planned"], 0, "idle run plans nothing")
    eq(sc.snapshot(), before, "idle run outputs")
    eq(read_state(sc), state_before, "idle run leaves the state alone")
