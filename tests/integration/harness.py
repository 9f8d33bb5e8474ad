"""Test harness for evshare's integration suites: fixture buckets in a
temporary directory, a config, running the built binary like a user would,
reading outputs back with gzip, and a tiny test runner that ends with
"N passed, N failed".

The binary is $EVSHARE_BIN (default ./evshare).  Suites use only the
standard library, so Debian's python3 runs them.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(os.environ.get("EVSHARE_BIN", os.path.join(ROOT, "evshare")))


def event(eid, org, domain="onboarding", etype="succeeded", **extra):
    ev = {"event_id": eid, "domain": domain, "event_type": etype, "schema_version": 1,
          "org_id": org, "cid": "cid-" + eid, "timestamp": "2026-11-27T00:00:00.000Z",
          "data": {}}
    ev.update(extra)
    return json.dumps(ev, separators=(",", ":")).encode()


def gz(data, mtime=0):
    return gzip.compress(data, mtime=mtime)


def lines(*ls):
    return b"".join(l + b"\n" for l in ls)


class Scenario:
    """Sources are local directories (file: buckets); so are destinations."""

    def __init__(self, name="scenario"):
        self.dir = tempfile.mkdtemp(prefix="evshare-%s-" % name)
        self.sources = []        # (org, rel dir)
        self.files = {}          # org -> [(key, bytes, mtime)]
        self.subs = []           # dicts for the config
        self.extra = {}
        self.base_time = time.time() - 3600

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def direct(self, org, rel=None):
        rel = rel or "buckets/%s/events/" % org
        self.sources.append((org, rel))
        self.files[org] = []
        os.makedirs(self.path(rel), exist_ok=True)
        return rel

    def add_file(self, org, key, data, age_s=None):
        """Write a source file; files are listed by (mtime, key)."""
        rel = dict(self.sources)[org]
        p = self.path(rel, key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        n = sum(len(v) for v in self.files.values())
        t = self.base_time + n if age_s is None else time.time() - age_s
        os.utime(p, (t, t))
        self.files[org].append((key, data, t))
        return p

    def put_source(self, org, key, data):
        """Replace (or add) a source file as its producer would: new content,
        new mtime (remote scenarios put the object to their store too)."""
        p = self.path(dict(self.sources)[org], key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    def additional(self, org, links, **kw):
        d = {"org_id": org, "links": links,
             "destination": kw.pop("destination", "file:out/")}
        d.update(kw)
        self.subs.append(d)

    def config(self):
        cfg = {"state_dir": "state",
               "direct_subscribers": [{"org_id": o, "source": "file:" + r} for o, r in self.sources],
               "additional_subscribers": self.subs}
        cfg.update(self.extra)
        return cfg

    def write_config(self, cfg=None):
        with open(self.path("evshare.json"), "w") as f:
            json.dump(cfg or self.config(), f, indent=1)
        return self.path("evshare.json")

    def run(self, *args, env=None, check=None, timeout=120):
        cfgp = self.path("evshare.json")
        if not os.path.exists(cfgp):
            self.write_config()
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        if env:
            e.update(env)
        p = subprocess.run([BIN, "-c", cfgp] + list(args), capture_output=True, env=e,
                           timeout=timeout)
        if check is not None and p.returncode != check:
            raise AssertionError("evshare %s exited %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(args), p.returncode, check, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
        return p

    def run_json(self, *args, check=0, env=None):
        p = self.run("run", "--json", *args, check=check, env=env)
        return json.loads(p.stdout)

    def expected_inputs(self, orgs=None):
        """Source files in listing order: (mtime, key)."""
        out = []
        for org, _ in self.sources:
            fs = sorted(self.files[org], key=lambda f: (f[2], f[0].encode()))
            out.append((org, [(k, d) for k, d, _ in fs]))
        return out

    def objects(self, sub, dest="out"):
        """[(relative key, bytes)] of a subscriber's outputs, in (run, seq) order."""
        root = self.path(dest)
        res = []
        for dp, _, fns in os.walk(root):
            for fn in fns:
                full = os.path.join(dp, fn)
                rel = os.path.relpath(full, root)
                if sub is not None and ("/" + sub + "/") not in ("/" + rel) and not rel.startswith(sub):
                    continue
                with open(full, "rb") as f:
                    res.append((rel, f.read(), os.stat(full).st_mtime_ns))

        def order(item):
            # run start (second), then when the object was made (two runs can
            # start in the same second), then its sequence number
            m = re.search(r"(\d{8}T\d{6}Z)-[0-9a-f]{8}-(\d{6})", item[0])
            return (m.group(1), item[2], int(m.group(2)), item[0]) if m else ("", item[2], 0, item[0])
        return [(k, d) for k, d, _ in sorted(res, key=order)]

    def output_lines(self, sub, dest="out"):
        out = []
        for _, data in self.objects(sub, dest):
            text = gzip.decompress(data)
            assert text.endswith(b"\n"), "object does not end with a newline"
            out.extend(text.split(b"\n")[:-1])
        return out

    def quarantine(self):
        q = []
        qd = self.path("state", "quarantine")
        if not os.path.isdir(qd):
            return q
        for fn in sorted(os.listdir(qd)):
            with open(os.path.join(qd, fn), "rb") as f:
                for l in f:
                    q.append(json.loads(l))
        return q

    def snapshot(self, root="out"):
        snap = {}
        base = self.path(root)
        for dp, _, fns in os.walk(base):
            for fn in fns:
                with open(os.path.join(dp, fn), "rb") as f:
                    snap[os.path.relpath(os.path.join(dp, fn), base)] = f.read()
        return snap


def quarantined_bytes(rec):
    import base64
    if "text" in rec:
        return rec["text"].encode("utf-8")
    return base64.b64decode(rec["base64"])


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what, b, a))


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Skip(Exception):
    """A test that cannot run here says why; the suite names it at the end."""


def run_tests(tests, cleanup=(), width=45):
    """Run the tests named on the command line (substrings; all if none),
    then every cleanup; print "N passed, N failed" last and exit 1 if any
    failed.  Shared by the suites' own runners."""
    sel = sys.argv[1:]
    passed = failed = 0
    skipped = []
    t_suite = time.time()
    try:
        for fn in tests:
            if sel and not any(s in fn.__name__ for s in sel):
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print("ok   %-*s %.2fs" % (width, fn.__name__, time.time() - t0), flush=True)
            except Skip as e:
                skipped.append(fn.__name__)
                print("SKIP %-*s %s" % (width, fn.__name__, e), flush=True)
            except Exception:
                failed += 1
                print("FAIL %s" % fn.__name__, flush=True)
                traceback.print_exc(file=sys.stdout)
    finally:
        for f in cleanup:
            try:
                f()
            except Exception:
                traceback.print_exc(file=sys.stdout)
    if skipped or cleanup:
        print("suite time %.1f s%s" % (time.time() - t_suite,
                                       "; SKIPPED (loudly): " + ", ".join(skipped)
                                       if skipped else ""))
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def main():
    run_tests(TESTS)


# -- for the suites of the remote stores (s3harness.py, azharness.py)

def state_committed(sc):
    return os.path.exists(sc.path("state", "state.json"))


def read_state(sc):
    p = sc.path("state", "state.json")
    if not os.path.exists(p):
        return None
    with open(p, "rb") as f:
        return f.read()


def file_copy(remote):
    """A file:// Scenario over a copy of the fixture directory of a remote
    scenario (one built on remote.base), with the same mtimes."""
    d = remote.dir + "-file"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(remote.base.dir, d, symlinks=True)
    for name in ("state", "out", "evshare.json"):
        p = os.path.join(d, name)
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)
    sc = Scenario.__new__(Scenario)
    sc.__dict__.update(remote.base.__dict__)
    sc.dir = d
    sc.files = remote.files
    return sc
