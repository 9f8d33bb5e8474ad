#!/usr/bin/env python3
"""azurite.py - install the pinned Azurite and start its blob service for tests.

The version is pinned by tests/azure/package.json and package-lock.json
(every transitive package with its integrity hash).  It is installed at
test time with `npm ci --ignore-scripts` into a cache directory, never
committed: $EVSHARE_AZURITE_DIR, else build/azurite-VERSION in the source
tree (`make clean` removes it; the next run installs it again, ~15 s).
An install is reused while it was made from the same lock file (a stamp
holds the lock's SHA-256).

    import azurite
    with azurite.start() as az:          # 127.0.0.1, a free port, in memory
        print(az.endpoint)               # http://127.0.0.1:PORT/devstoreaccount1
        c = az.client()                  # azclient.Client with the emulator key
    # stopped by PID (SIGTERM, then SIGKILL)

Azurite runs as `node DIR/node_modules/azurite/dist/src/blob/main.js` (one
PID owns it, no npx or shell in between) with --blobHost 127.0.0.1
--blobPort 0 --inMemoryPersistence --disableTelemetry, and dies with the
process that started it (PR_SET_PDEATHSIG).  The port it got is read from
its "successfully listens on" line.  AZURITE_ACCOUNTS is passed through
(extra accounts; it replaces devstoreaccount1), and start(debug_log=PATH)
adds --debug PATH (Azurite logs the string it signed there).

CLI, for a shell:  azurite.py install | start [--debug FILE]
  `start` prints {"endpoint", "pid", "port"} as one JSON line and stays in
  the foreground until it gets SIGTERM or SIGINT.
"""
import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import azclient  # noqa: E402


def pinned_version():
    with open(os.path.join(HERE, "package.json")) as f:
        return json.load(f)["dependencies"]["azurite"]


VERSION = pinned_version()
MIN_NODE = 18


class Unavailable(Exception):
    """node or npm missing, or the install failed: the message says which."""


def install_dir():
    return os.environ.get("EVSHARE_AZURITE_DIR") or os.path.join(ROOT, "build",
                                                                 "azurite-" + VERSION)


def main_js(d=None):
    return os.path.join(d or install_dir(), "node_modules", "azurite", "dist", "src", "blob",
                        "main.js")


def _read(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except OSError:
        return None


def _lock_digest():
    return hashlib.sha256(_read(os.path.join(HERE, "package-lock.json")) or b"").hexdigest()


def installed(d=None):
    d = d or install_dir()
    if not os.path.exists(main_js(d)):
        return False
    if (_read(os.path.join(d, ".installed")) or b"").decode() != _lock_digest():
        return False
    try:
        with open(os.path.join(d, "node_modules", "azurite", "package.json")) as f:
            return json.load(f)["version"] == VERSION
    except (OSError, ValueError, KeyError):
        return False


def install(log=sys.stderr):
    """Install the pinned Azurite unless it is there; returns the seconds it took."""
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise Unavailable("%s is not installed" % tool)
    v = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    try:
        major = int(v.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE:
        raise Unavailable("node %s is too old: azurite@%s needs node %d or later (its "
                          "package.json says 22; 18 and 20 work)" % (v or "?", VERSION, MIN_NODE))
    d = install_dir()
    os.makedirs(d, exist_ok=True)
    t0 = time.time()
    with open(os.path.join(d, ".install.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if installed(d):
            return 0.0
        print("azurite: installing azurite@%s into %s (npm ci)" % (VERSION, d), file=log, flush=True)
        shutil.rmtree(os.path.join(d, "node_modules"), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(d, ".installed"))
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(HERE, name), os.path.join(d, name))
        p = subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund",
                            "--loglevel=error", "--prefix", d], capture_output=True, text=True,
                           timeout=600)
        if p.returncode != 0 or not os.path.exists(main_js(d)):
            raise Unavailable("npm ci of azurite@%s failed (exit %d): %s" % (
                VERSION, p.returncode, (p.stderr or p.stdout).strip()[-600:]))
        # the stamp (our lock's digest) marks a finished install
        with open(os.path.join(d, ".installed"), "w") as f:
            f.write(_lock_digest())
    return time.time() - t0


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)          # PR_SET_PDEATHSIG


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Azurite:
    """A running Azurite blob service (in memory) on 127.0.0.1."""

    def __init__(self, proc, port, tmp, start_s):
        self.proc, self.pid, self.port, self._tmp = proc, proc.pid, port, tmp
        self.start_seconds = start_s
        self.account = azclient.DEV_ACCOUNT
        self.key = azclient.DEV_KEY
        self.base = "http://127.0.0.1:%d" % port
        self.endpoint = "%s/%s" % (self.base, self.account)
        self._out = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            if len(self._out) < 1000:
                self._out.append(line)

    def client(self, key=None, sas=None, endpoint=None, account=None):
        if sas is None and key is None:
            key = self.key
        return azclient.Client(endpoint or self.endpoint, account or self.account, key=key, sas=sas)

    def connection_string(self, key=None, endpoint=None):
        return "DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;" % (
            self.account, key or self.key, endpoint or self.endpoint)

    def output(self):
        return "".join(self._out)

    def stop(self):
        """SIGTERM by PID; SIGKILL if it is still there after 5 s."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                if _alive(self.pid):
                    os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self._tmp:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start(debug_log=None, timeout=60):
    """Install if needed, start, wait until it listens; returns an Azurite."""
    install()
    tmp = tempfile.TemporaryDirectory(prefix="evshare-azurite-")
    args = ["node", main_js(), "--blobHost", "127.0.0.1", "--blobPort", "0",
            "--inMemoryPersistence", "--disableTelemetry", "--extentMemoryLimit", "4096"]
    if debug_log:
        args += ["--debug", debug_log]
    else:
        args += ["--silent"]
    t0 = time.time()
    proc = subprocess.Popen(args, cwd=tmp.name, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=_die_with_parent)
    seen = []
    port = None
    deadline = t0 + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        marker = "successfully listens on http://127.0.0.1:"
        if marker in line:
            port = int(line.split(marker, 1)[1].strip().rstrip("/"))
            break
    if port is None:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        tmp.cleanup()
        raise Unavailable("azurite did not start: %s" % "".join(seen)[-800:])
    return Azurite(proc, port, tmp, time.time() - t0)


def _cli():
    if len(sys.argv) >= 2 and sys.argv[1] == "install":
        print("installed in %.1f s (%s)" % (install(), install_dir()))
        return 0
    if len(sys.argv) >= 2 and sys.argv[1] == "start":
        debug = sys.argv[sys.argv.index("--debug") + 1] if "--debug" in sys.argv else None
        az = start(debug_log=debug)
        print(json.dumps({"endpoint": az.endpoint, "pid": az.pid, "port": az.port}), flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *a: stop.set())
        signal.signal(signal.SIGINT, lambda *a: stop.set())
        while not stop.is_set() and az.proc.poll() is None:
            stop.wait(0.5)
        az.stop()
        return 0
    print(__doc__)
    return 64


if __name__ == "__main__":
    sys.exit(_cli())
