#!/usr/bin/env python3
"""peerlib.py - start the signature-checking S3 peer (s3peer.py) and talk to it from tests.

    import peerlib
    with peerlib.start() as peer:                 # free port; stopped by PID on exit
        peer.create_bucket("evbucket")
        peer.put("evbucket", "in/a.ndjson.gz", data)
        peer.set_faults([{"method": "GET", "path": "/evbucket/in/", "times": 2, "action": "slowdown"}])
        peer.reset_stats()
        subprocess.run(["./evshare", ...], env={**os.environ, **peer.env()})
        print(peer.stats()["connections"], peer.get("evbucket", "out/x.gz"))

Also a small CLI for shell tests (uses boto3, so run it with the pyenv Python):
    peerlib.py start [--ready-file F] [s3peer options]     same as s3peer.py
    peerlib.py --endpoint E --key AKID:SECRET[:TOKEN] mb|put|get|ls|uploads|faults|clear-faults|stats|requests|reset-stats|reset ...
"""
import atexit, ctypes, http.client, json, os, signal, subprocess, sys, tempfile, time, urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_KEY = ("AKIDPEERTEST0000", "peer-test-secret/0123456789abcdefghijklm", None)
_live = []


def python_with_moto():
    import importlib.util
    if importlib.util.find_spec("moto"):
        return sys.executable
    root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() or os.path.expanduser("~/.pyenv")
    return os.path.join(root, "versions", "3.11.7", "bin", "python3")


def _alive(pid):
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Peer:
    def __init__(self, info, proc, keys, region, tmpdir):
        self.endpoint, self.pid, self.moto_pid = info["endpoint"], info["pid"], info["moto_pid"]
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        self.proc, self.keys, self.region, self._tmp = proc, keys, region, tmpdir
        self.access_key, self.secret_key, self.token = keys[0]
        self._clients = {}

    # ---- lifecycle
    def stop(self):
        """SIGTERM the peer by PID (it stops moto); SIGKILL both if they linger."""
        if self in _live:
            _live.remove(self)
        for pid, grace in ((self.pid, 5.0), (self.moto_pid, 2.0)):
            if not _alive(pid):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.time() + grace
            while time.time() < deadline and _alive(pid):
                if pid == self.pid and self.proc is not None:
                    try:
                        self.proc.wait(0.05)
                    except subprocess.TimeoutExpired:
                        pass
                else:
                    time.sleep(0.05)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc is not None:
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- environment for the tool under test
    def env(self, key=0):
        akid, secret, token = self.keys[key] if isinstance(key, int) else key
        e = {"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": self.region,
             "AWS_DEFAULT_REGION": self.region, "AWS_ENDPOINT_URL": self.endpoint, "AWS_ENDPOINT_URL_S3": self.endpoint}
        if token:
            e["AWS_SESSION_TOKEN"] = token
        return e

    # ---- control endpoints (no auth)
    def _control(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = json.dumps(body).encode() if body is not None else b""
            c.request(method, path, body=data, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            out = r.read()
            if r.status != 200:
                raise RuntimeError(f"{method} {path}: {r.status} {out[:300]!r}")
            return json.loads(out) if out else None
        finally:
            c.close()

    def stats(self):
        return self._control("GET", "/_peer/stats")

    def reset_stats(self):
        """Zero the counters and the request records (connections already open count again when used)."""
        self._control("POST", "/_peer/reset-stats")

    def requests(self):
        """One record per S3 request begun since the last reset and answered: conn, method, target, status, code, bytes_in, ms,
        content_md5 (whether the request had the header; a wrong one is rejected), fault."""
        return self._control("GET", "/_peer/requests")

    def in_flight(self):
        """The S3 requests begun and not yet answered, oldest first: method, target, t
        (a fault's delay holds a request here; the stats' reset does not clear it)."""
        return self._control("GET", "/_peer/in-flight")

    def set_faults(self, rules):
        self._control("POST", "/_peer/faults", rules)

    def clear_faults(self):
        self._control("DELETE", "/_peer/faults")

    def faults(self):
        return self._control("GET", "/_peer/faults")

    def reset(self):
        """Wipe all of moto's state (buckets, objects, uploads)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", "/moto-api/reset", body=b"", headers={"Content-Type": "text/plain"})
        c.getresponse().read()
        c.close()

    # ---- S3 through boto3 (an independent, signing client)
    def client(self, key=0, **config):
        import boto3
        from botocore.config import Config
        akid, secret, token = self.keys[key] if isinstance(key, int) else key
        ck = (akid, secret, token, tuple(sorted(config.items())))
        if ck not in self._clients:
            cfg = {"retries": {"total_max_attempts": 1, "mode": "standard"}, "s3": {"addressing_style": "path"},
                   "signature_version": "s3v4"}
            cfg.update(config)
            self._clients[ck] = boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                                             aws_access_key_id=akid, aws_secret_access_key=secret,
                                             aws_session_token=token, config=Config(**cfg))
        return self._clients[ck]

    def create_bucket(self, bucket):
        self.client().create_bucket(Bucket=bucket)

    def put(self, bucket, key, data, **kw):
        if isinstance(data, str):
            data = data.encode()
        return self.client().put_object(Bucket=bucket, Key=key, Body=data, **kw)

    def put_file(self, bucket, key, path):
        self.client().upload_file(path, bucket, key)

    def get(self, bucket, key):
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def exists(self, bucket, key):
        from botocore.exceptions import ClientError
        try:
            self.client().head_object(Bucket=bucket, Key=key)
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list_keys(self, bucket, prefix=""):
        keys = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def list_multipart_uploads(self, bucket):
        r = self.client().list_multipart_uploads(Bucket=bucket)
        return [{"Key": u["Key"], "UploadId": u["UploadId"]} for u in r.get("Uploads", [])]


def start(keys=None, region="us-east-1", log=None, faults_file=None, max_skew=900, extra_args=(), timeout=30):
    """Start s3peer.py on a free port; returns a Peer (use as a context manager, or call stop())."""
    keys = [tuple(k) + (None,) * (3 - len(k)) for k in (keys or [DEFAULT_KEY])]
    tmp = tempfile.TemporaryDirectory(prefix="s3peer.")
    ready = os.path.join(tmp.name, "ready.json")
    cmd = [python_with_moto(), os.path.join(HERE, "s3peer.py"), "--region", region, "--ready-file", ready,
           "--max-skew", str(max_skew)]
    for akid, secret, token in keys:
        cmd += ["--key", f"{akid}:{secret}" + (f":{token}" if token else "")]
    if log:
        cmd += ["--log", log]
    if faults_file:
        cmd += ["--faults", faults_file]
    cmd += list(extra_args)
    parent, libc = os.getpid(), ctypes.CDLL("libc.so.6", use_errno=True)

    def child_setup():  # the peer gets SIGTERM when this process dies
        libc.prctl(1, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(1)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, preexec_fn=child_setup)
    deadline = time.time() + timeout
    while not os.path.exists(ready):
        if proc.poll() is not None or time.time() > deadline:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            tmp.cleanup()
            raise RuntimeError(f"s3peer did not become ready (exit {proc.returncode})")
        time.sleep(0.01)
    with open(ready) as f:
        info = json.load(f)
    peer = Peer(info, proc, keys, region, tmp)
    _live.append(peer)
    return peer


@atexit.register
def _stop_all():
    for p in list(_live):
        p.stop()


def _cli():
    import argparse
    if len(sys.argv) > 1 and sys.argv[1] == "start":
        os.execv(python_with_moto(), [python_with_moto(), os.path.join(HERE, "s3peer.py")] + sys.argv[2:])
    ap = argparse.ArgumentParser(description="S3 helper for shell tests (talks to a running s3peer)")
    ap.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL"))
    ap.add_argument("--key", default=None, help="AKID:SECRET[:TOKEN] (default: AWS_* environment)")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("cmd", choices=["mb", "put", "get", "ls", "uploads", "faults", "clear-faults", "stats",
                                    "requests", "reset-stats", "reset"])
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    if a.key:
        k = a.key.split(":", 2)
    else:
        k = [os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY"), os.environ.get("AWS_SESSION_TOKEN")]
    k = (k + [None, None, None])[:3]
    p = Peer({"endpoint": a.endpoint, "pid": -1, "moto_pid": -1}, None, [tuple(k)], a.region, None)
    out = sys.stdout.buffer
    if a.cmd == "mb":
        for b in a.args:
            p.create_bucket(b)
    elif a.cmd == "put":  # put BUCKET KEY FILE|-
        b, key, f = a.args
        p.put(b, key, sys.stdin.buffer.read() if f == "-" else open(f, "rb").read())
    elif a.cmd == "get":  # get BUCKET KEY
        out.write(p.get(*a.args))
    elif a.cmd == "ls":  # ls BUCKET [PREFIX]
        out.write("".join(k + "\n" for k in p.list_keys(*a.args)).encode())
    elif a.cmd == "uploads":
        out.write(json.dumps(p.list_multipart_uploads(*a.args)).encode() + b"\n")
    elif a.cmd == "faults":  # faults JSON|@FILE
        s = a.args[0]
        p.set_faults(json.load(open(s[1:])) if s.startswith("@") else json.loads(s))
    elif a.cmd == "clear-faults":
        p.clear_faults()
    elif a.cmd == "stats":
        out.write(json.dumps(p.stats()).encode() + b"\n")
    elif a.cmd == "requests":
        out.write("".join(json.dumps(r) + "\n" for r in p.requests()).encode())
    elif a.cmd == "reset-stats":
        p.reset_stats()
    elif a.cmd == "reset":
        p.reset()


if __name__ == "__main__":
    _cli()
