"""Helpers for evshare's s3:// integration suite (test_s3.py).

One signature-checking peer (tests/peer: moto behind a strict SigV4 front
end with fault injection) serves the whole suite; it listens on 127.0.0.1
on a free port and is stopped by PID when the suite ends.

S3Scenario takes a file:// Scenario (harness.py), uploads its source files
to a bucket with boto3 and rewrites the config so that every source and
destination is an s3:// location on the peer.  S3 LastModified has whole
seconds, so after the upload the local fixture files get the S3 times
(os.utime): the file:// run of the same directory then lists the files in
the same (mtime, key) order, and expected_inputs() computes that order for
the reference model.

Needs boto3 (pyenv Python); reexec_with_boto3() restarts the suite under
that interpreter when started with another one.
"""
import gzip
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "peer"))

import harness  # noqa: E402
from harness import Scenario, BIN, state_committed, read_state  # noqa: E402,F401

KEY = ("AKIDEVSHARETEST01", "evshare/test+secret=0123456789abcdefghij")
TOKEN_KEY = ("ASIAEVSHARETOKEN1", "token-secret/0123456789", "FwoGZXIvYXdzEJr//token+value=")
OTHER_KEY = ("AKIDEVSHAREOTHER2", "other-secret-0123456789")
SECRETS = [KEY[1], TOKEN_KEY[1], TOKEN_KEY[2], OTHER_KEY[1]]


def reexec_with_boto3():
    try:
        import boto3  # noqa: F401
        return
    except ImportError:
        pass
    import peerlib
    py = peerlib.python_with_moto()
    if not os.path.exists(py) or os.path.realpath(py) == os.path.realpath(sys.executable):
        print("boto3 is not available (pyenv Python 3.11.7 expected)")
        print("0 passed, 1 failed")
        sys.exit(1)
    os.execv(py, [py] + sys.argv)


_peers = {}


def peer(region="us-east-1"):
    """The suite's peer for that region (started on first use)."""
    import peerlib
    if region not in _peers:
        _peers[region] = peerlib.start(keys=[KEY, TOKEN_KEY, OTHER_KEY], region=region)
    return _peers[region]


def stop_peers():
    for p in list(_peers.values()):
        p.stop()
    _peers.clear()


_bucket_seq = [0]


def new_bucket(p, stem):
    _bucket_seq[0] += 1
    name = "%s-%d-%d" % (stem, os.getpid() % 100000, _bucket_seq[0])
    if p.region == "us-east-1":
        p.create_bucket(name)
    else:
        p.client().create_bucket(Bucket=name,
                                 CreateBucketConfiguration={"LocationConstraint": p.region})
    return name


def upload_many(p, bucket, items, workers=8):
    """items: [(key, bytes)], uploaded in order of the list, in parallel."""
    c = p.client()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda kv: c.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]), items))


def list_objects(p, bucket, prefix=""):
    """{key: (LastModified epoch seconds, size, etag)} via boto3."""
    out = {}
    for page in p.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            out[o["Key"]] = (o["LastModified"].timestamp(), o["Size"], o["ETag"])
    return out


def open_uploads(p, bucket):
    return p.list_multipart_uploads(bucket)


def wait_until(cond, what, timeout=60):
    """Poll cond() until it holds; fail naming what was awaited."""
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out waiting for " + what
        time.sleep(0.01)


def quiesce(p, timeout=60):
    """Wait until the peer has answered every request it has begun: a
    killed run's delayed requests still reach moto (as a real server's do),
    and must land before the bucket is inspected or a rerun starts."""
    wait_until(lambda: not p.in_flight(), "the peer's requests in flight to end", timeout)


def wait_in_flight(p, method, target_part, timeout=60):
    """Wait until a request whose target contains target_part is being
    handled by the peer (typically held there by a delay fault)."""
    wait_until(lambda: any(r["method"] == method and target_part in r["target"] for r in p.in_flight()),
               "a %s %s to be in flight" % (method, target_part), timeout)


class S3Scenario(Scenario):
    """The same fixtures as a file:// Scenario, with every location on S3."""

    def __init__(self, base, p, dest="out/", src_bucket=None, dst_bucket=None):
        self.__dict__.update(base.__dict__)
        self.base = base
        self.peer = p
        try:
            self.src_bucket = src_bucket or new_bucket(p, "src")
            self.dst_bucket = dst_bucket or new_bucket(p, "dst")
        except BaseException:
            base.cleanup()
            raise
        self.dest_prefix = dest
        self.loc_extra = {}          # keys added to every s3 location object
        self.src_extra = {}          # ... to source locations only
        self.dst_extra = {}          # ... to destinations only
        self.env = dict(p.env())
        self.env["EVSHARE_STALL_TIMEOUT"] = "3"

    # -- fixtures
    def src_key(self, org, key):
        return "%s/events/%s" % (org, key)

    def upload(self):
        """Upload every source file in listing order; adopt S3's times."""
        items = []
        for org, _ in self.sources:
            for key, data, _t in sorted(self.files[org], key=lambda f: (f[2], f[0].encode())):
                items.append((self.src_key(org, key), data))
        upload_many(self.peer, self.src_bucket, items)
        self.adopt_s3_times()

    def adopt_s3_times(self):
        listed = list_objects(self.peer, self.src_bucket)
        for org, rel in self.sources:
            files = []
            for key, data, _t in self.files[org]:
                t = listed[self.src_key(org, key)][0]
                p = self.path(rel, key)
                if os.path.exists(p):
                    os.utime(p, (t, t))
                files.append((key, data, t))
            self.files[org] = files

    def put_source(self, org, key, data):
        """Replace or add one source file (S3 and the local mirror)."""
        self.peer.put(self.src_bucket, self.src_key(org, key), data)
        rel = dict(self.sources)[org]
        p = self.path(rel, key)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        self.files[org] = [f for f in self.files[org] if f[0] != key] + [(key, data, 0)]
        self.adopt_s3_times()

    # -- config
    def location(self, url, extra):
        d = dict(self.loc_extra)
        d.update(extra)
        if not d:
            return url
        d["url"] = url
        return d

    def config(self):
        cfg = self.base.config()
        cfg["direct_subscribers"] = [
            {"org_id": o, "source": self.location("s3://%s/%s/events/" % (self.src_bucket, o),
                                                  self.src_extra)}
            for o, _ in self.sources]
        subs = []
        for s in self.subs:
            s = dict(s)
            s["destination"] = self.location("s3://%s/%s" % (self.dst_bucket, self.dest_prefix),
                                             self.dst_extra)
            subs.append(s)
        cfg["additional_subscribers"] = subs
        return cfg

    def run(self, *args, env=None, check=None, timeout=180):
        e = dict(self.env)
        if env:
            e.update(env)
        # the config is rewritten each time: tests change locations between runs
        self.write_config()
        return Scenario.run(self, *args, env=e, check=check, timeout=timeout)

    def run_json(self, *args, check=0, env=None):
        import json
        p = self.run("run", "--json", *args, check=check, env=env)
        return json.loads(p.stdout)

    # -- outputs
    def objects(self, sub, dest=None):
        prefix = self.dest_prefix
        c = self.peer.client()
        res = []
        for key in self.peer.list_keys(self.dst_bucket, prefix):
            rel = key[len(prefix):]
            if sub is not None and ("/" + sub + "/") not in ("/" + rel) and not rel.startswith(sub):
                continue
            res.append((rel, c.get_object(Bucket=self.dst_bucket, Key=key)["Body"].read()))

        def order(item):
            m = re.search(r"(\d{8}T\d{6}Z-[0-9a-f]{8})-(\d{6})", item[0])
            return (m.group(1), int(m.group(2)), item[0]) if m else ("", 0, item[0])
        return sorted(res, key=order)

    def output_lines(self, sub, dest=None):
        out = []
        for _, data in self.objects(sub):
            text = gzip.decompress(data)
            assert text.endswith(b"\n"), "object does not end with a newline"
            out.extend(text.split(b"\n")[:-1])
        return out

    def snapshot(self, root=None):
        return dict(self.objects(None))

    def file_copy(self):
        return harness.file_copy(self)


class TlsFront:
    """A TLS front end on 127.0.0.1 that forwards bytes to the peer, with a
    self-signed certificate for `names` (e.g. DNS:localhost).  Stopped by
    stop(); threads are daemons."""

    def __init__(self, p, tmpdir, names="DNS:localhost"):
        import socket
        import ssl
        import threading
        self.cert = os.path.join(tmpdir, "cert.pem")
        key = os.path.join(tmpdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=evshare-test", "-addext", "subjectAltName=" + names,
                        "-keyout", key, "-out", self.cert], check=True, capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, key)
        self.target = ("127.0.0.1", p.port)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.handshakes_failed = 0
        self.stopping = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass

    def _serve(self):
        import socket
        import threading
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                t = self.ctx.wrap_socket(c, server_side=True)
            except OSError:
                self.handshakes_failed += 1
                c.close()
                continue
            u = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(t, u), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, t), daemon=True).start()

    def stop(self):
        self.stopping = True
        self.sock.close()


# -- a runner with the convention of harness.py: "N passed, N failed"
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def main():
    harness.run_tests(TESTS, cleanup=(stop_peers,), width=50)


def run_bin(args, env, timeout=180):
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    e.update(env)
    return subprocess.run([BIN] + list(args), capture_output=True, env=e, timeout=timeout)
