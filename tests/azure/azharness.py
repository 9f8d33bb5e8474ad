"""Helpers for evshare's az:// integration suite (tests/integration/test_az.py).

One Azurite (tests/azure/azurite.py: the pinned npm version, in memory, on
127.0.0.1 with a free port) serves the whole suite, with a fault proxy
(faultproxy.py) in front of it; both are stopped when the suite ends
(Azurite by PID).

AzScenario takes a file:// Scenario (tests/integration/harness.py),
uploads its source files to a container with azclient.py (our own Shared
Key client) and rewrites the config so that every source and destination
is an az:// location.  Blob Last-Modified times have whole seconds, so
after the upload the local fixture files get Azure's times (os.utime): a
file:// run of the same directory lists the files in the same (mtime, key)
order, and expected_inputs() computes that order for the reference model.
Standard library only.
"""
import gzip
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import azclient  # noqa: E402
import azurite  # noqa: E402
import faultproxy  # noqa: E402
import harness  # noqa: E402
from harness import Scenario, Skip, state_committed, read_state  # noqa: E402,F401

KEY = azclient.DEV_KEY
ACCOUNT = azclient.DEV_ACCOUNT
# a well-formed key that is not the account's
WRONG_KEY = "d3Jvbmcta2V5LWZvci1ldnNoYXJlLXRlc3RzLTAxMjM0NTY3ODlhYmNkZWY="

_state = {}


class Peer:
    """Azurite and the fault proxy in front of it."""

    def __init__(self):
        t0 = time.time()
        self.install_seconds = azurite.install()
        self.az = azurite.start()
        self.proxy = faultproxy.FaultProxy(("127.0.0.1", self.az.port))
        self.direct = self.az.endpoint
        self.endpoint = "http://127.0.0.1:%d/%s" % (self.proxy.port, ACCOUNT)
        self.client = azclient.Client(self.direct, ACCOUNT, key=KEY)
        print("     azurite %s: installed in %.1f s, started in %.2f s (pid %d, port %d); "
              "fault proxy on port %d" % (azurite.VERSION, self.install_seconds,
                                          self.az.start_seconds, self.az.pid, self.az.port,
                                          self.proxy.port), flush=True)
        self.setup_seconds = time.time() - t0

    # fault proxy shortcuts
    def set_faults(self, rules):
        self.proxy.set_faults(rules)

    def clear_faults(self):
        self.proxy.clear_faults()

    def faults(self):
        return self.proxy.faults()

    def requests(self):
        return self.proxy.requests()

    def reset_stats(self):
        self.proxy.reset_stats()

    def stats(self):
        return self.proxy.stats()

    def stop(self):
        self.proxy.stop()
        self.az.stop()


def peer():
    """The suite's Azurite (started on first use).  If it cannot start, every
    test that needs it fails at once with the same reason."""
    if "failed" in _state:
        raise azurite.Unavailable(_state["failed"])
    if "peer" not in _state:
        try:
            _state["peer"] = Peer()
        except azurite.Unavailable as e:
            _state["failed"] = str(e)
            raise
    return _state["peer"]


def stop_peer():
    p = _state.pop("peer", None)
    if p:
        p.stop()


_seq = [0]


def new_container(p, stem):
    _seq[0] += 1
    name = "%s-%d-%d" % (stem, os.getpid() % 100000, _seq[0])
    p.client.create_container(name)
    return name


def upload_many(client, container, items, workers=8):
    """items: [(name, bytes)], uploaded in order of the list, in parallel."""
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda kv: client.put_blob(container, kv[0], kv[1]), items))


def base_env(p, key=KEY):
    return {"AZURE_STORAGE_KEY": key, "AZURE_STORAGE_ACCOUNT": ACCOUNT,
            "EVSHARE_STALL_TIMEOUT": "3"}


def object_order(name, mtime):
    """(run start, Last-Modified, sequence, name): two runs can start in
    the same second; the later one's objects are newer."""
    m = re.search(r"(\d{8}T\d{6}Z)-[0-9a-f]{8}-(\d{6})", name)
    return (m.group(1), mtime, int(m.group(2)), name) if m else ("", mtime, 0, name)


class AzScenario(Scenario):
    """The same fixtures as a file:// Scenario, with every location on az://."""

    def __init__(self, base, p, dest="out/", via_proxy=True):
        self.__dict__.update(base.__dict__)
        self.base = base
        self.peer = p
        try:
            self.src_container = new_container(p, "src")
            self.dst_container = new_container(p, "dst")
        except BaseException:
            base.cleanup()
            raise
        self.dest_prefix = dest
        self.endpoint = p.endpoint if via_proxy else p.direct
        self.loc_extra = {"endpoint": self.endpoint}   # every az location object
        self.src_extra = {}
        self.dst_extra = {}
        self.env = base_env(p)

    # -- fixtures
    def src_key(self, org, key):
        return "%s/events/%s" % (org, key)

    def upload(self):
        items = []
        for org, _ in self.sources:
            for key, data, _t in sorted(self.files[org], key=lambda f: (f[2], f[0].encode())):
                items.append((self.src_key(org, key), data))
        upload_many(self.peer.client, self.src_container, items)
        self.adopt_azure_times()

    def adopt_azure_times(self):
        listed = {b["name"]: b for b in self.peer.client.list_blobs(self.src_container)}
        for org, rel in self.sources:
            files = []
            for key, data, _t in self.files[org]:
                t = listed[self.src_key(org, key)]["last_modified"]
                path = self.path(rel, key)
                if os.path.exists(path):
                    os.utime(path, (t, t))
                files.append((key, data, t))
            self.files[org] = files

    def put_source(self, org, key, data):
        self.peer.client.put_blob(self.src_container, self.src_key(org, key), data)
        rel = dict(self.sources)[org]
        path = self.path(rel, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.files[org] = [f for f in self.files[org] if f[0] != key] + [(key, data, 0)]
        self.adopt_azure_times()

    # -- config
    def location(self, url, extra):
        d = dict(self.loc_extra)
        d.update(extra)
        d = {k: v for k, v in d.items() if v is not None}
        if not d:
            return url
        d["url"] = url
        return d

    def src_url(self, org):
        return "az://%s/%s/%s/events/" % (ACCOUNT, self.src_container, org)

    def dst_url(self):
        return "az://%s/%s/%s" % (ACCOUNT, self.dst_container, self.dest_prefix)

    def config(self):
        cfg = self.base.config()
        cfg["direct_subscribers"] = [
            {"org_id": o, "source": self.location(self.src_url(o), self.src_extra)}
            for o, _ in self.sources]
        subs = []
        for s in self.subs:
            s = dict(s)
            s["destination"] = self.location(self.dst_url(), self.dst_extra)
            subs.append(s)
        cfg["additional_subscribers"] = subs
        return cfg

    def run(self, *args, env=None, check=None, timeout=180):
        e = dict(self.env)
        if env:
            e.update(env)
        self.write_config()
        return Scenario.run(self, *args, env=e, check=check, timeout=timeout)

    def run_json(self, *args, check=0, env=None):
        import json
        p = self.run("run", "--json", *args, check=check, env=env)
        return json.loads(p.stdout)

    # -- outputs
    def blobs(self):
        return self.peer.client.list_blobs(self.dst_container, self.dest_prefix)

    def objects(self, sub, dest=None):
        prefix = self.dest_prefix
        res = []
        for b in self.blobs():
            rel = b["name"][len(prefix):]
            if sub is not None and ("/" + sub + "/") not in ("/" + rel) and not rel.startswith(sub):
                continue
            res.append((object_order(rel, b["last_modified"]), rel,
                        self.peer.client.get_blob(self.dst_container, b["name"])))
        return [(rel, data) for _, rel, data in sorted(res)]

    def output_lines(self, sub, dest=None):
        out = []
        for _, data in self.objects(sub):
            text = gzip.decompress(data)
            assert text.endswith(b"\n"), "object does not end with a newline"
            out.extend(text.split(b"\n")[:-1])
        return out

    def snapshot(self, root=None):
        return dict(self.objects(None))

    def uncommitted_blocks(self):
        """{blob name: [(block id, size)]} of the destination's uncommitted blocks."""
        out = {}
        for b in self.blobs():
            bl = self.peer.client.block_list(self.dst_container, b["name"], "uncommitted")
            if bl and bl["uncommitted"]:
                out[b["name"]] = bl["uncommitted"]
        return out

    def file_copy(self):
        return harness.file_copy(self)


# -- a runner with the convention of harness.py: "N passed, N failed"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def main(cleanup=()):
    harness.run_tests(TESTS, cleanup=tuple(cleanup) + (stop_peer,), width=55)
