#!/usr/bin/env python3
"""faultproxy.py - a small HTTP/1.1 proxy that injects faults, for any peer.

tests/peer/s3peer.py's fault machinery lives inside its S3 signature
checker (it rejects every request that is not SigV4-signed), so the Azure
tests put this generic one in front of Azurite instead.  It forwards each
request unchanged (the same target, headers and body: Shared Key and SAS
signatures stay valid) on a new connection to the upstream, and relays the
answer on the client's kept-alive connection, unless a rule says
otherwise.  Standard library only; 127.0.0.1 only.

    p = FaultProxy(("127.0.0.1", azurite_port))       # a free port; threads are daemons
    p.set_faults([{"method": "GET", "path": "/in/", "times": 2, "action": "server_busy"}])
    ... point the client at http://127.0.0.1:%d/devstoreaccount1 % p.port ...
    p.requests()     # [{"conn", "method", "target", "status", "code", "bytes_in",
                     #   "content_md5", "fault"?}]; content_md5 of a request with a body:
                     #   "match", "mismatch" (against the body as received) or None
    p.faults()       # the rules with "times" left and "hits"
    p.stop()

Rules (the first matching rule with times left fires; times -1 = forever):
  {"method": "PUT", "path": "comp=block", "times": 1, "action": ACTION, "code": "X"}
  path is a Python regex searched in the raw request target, query included.

Actions ("name", "name:N" or {"name": N}):
  server_busy               503 ServerBusy (Azure's throttling answer), not forwarded
  status: N                 N with an Azure XML <Error> (500 InternalError, 503 ServerBusy,
                            others: "code" or none) and x-ms-error-code, not forwarded
  delay_ms: N               the real answer, N ms late
  drop_response             the request reaches the upstream, its answer is dropped: TCP RST
                            (a lost reply: answers to PUTs often have no body at all)
  reset_response_after: N   the real answer's head and N body bytes, then TCP RST
  truncate_response_after: N  head (full Content-Length) and N body bytes, then a clean close
  stall_response_after: N   head and N body bytes, then nothing until the client gives up
  close_after_response      the real answer, then the connection is closed
  reset_request_after: N    N bytes of the request body read, then RST (not forwarded)
  corrupt_request_body      one byte of the body flipped, then forwarded (the headers as
                            sent: a Content-MD5 no longer matches the body)
The response faults act on the real request: a PUT whose answer is reset
*has* been stored.

CLI: faultproxy.py --upstream HOST:PORT [--port P] [--faults FILE]  (prints the port)
"""
import base64
import hashlib
import json
import re
import socket
import struct
import sys
import threading
import time
import uuid

DEFAULT_CODES = {500: "InternalError", 503: "ServerBusy", 408: "OperationTimedOut",
                 429: "ServerBusy"}
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
           409: "Conflict", 412: "Precondition Failed", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}
MAX_HEAD = 64 << 10


class _Closed(Exception):
    pass


def parse_action(a):
    if isinstance(a, dict):
        (name, n), = a.items()
        return name, n
    if ":" in a:
        name, n = a.split(":", 1)
        return name, int(n)
    return a, None


class FaultProxy:
    def __init__(self, upstream, port=0):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)   # in_flight went down
        self.in_flight = 0
        self.rules = []
        self.records = []
        self.conns = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._serve, daemon=True).start()

    # -- control
    def set_faults(self, rules):
        with self.lock:
            self.rules = [dict(r, hits=0, times=r.get("times", -1)) for r in rules]
            for r in self.rules:
                parse_action(r["action"])
                re.compile(r.get("path", ""))

    def clear_faults(self):
        self.set_faults([])

    def faults(self):
        with self.lock:
            return [dict(r) for r in self.rules]

    def requests(self):
        with self.lock:
            return [dict(r) for r in self.records]

    def reset_stats(self):
        with self.lock:
            self.records = []
            self.conns = 0

    def stats(self):
        with self.lock:
            return {"connections": self.conns, "requests": len(self.records),
                    "in_flight": self.in_flight,
                    "faults_fired": sum(r["hits"] for r in self.rules)}

    def wait_idle(self, timeout=30):
        """Wait until no request is being read, held or forwarded: a killed
        client's delayed request still reaches the server (as a real
        network's would), and must land before the store is inspected."""
        deadline = time.time() + timeout
        with self.idle:
            while self.in_flight:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError("the proxy still has %d request(s) in flight"
                                         % self.in_flight)
                self.idle.wait(left)

    def stop(self):
        self.stopping = True
        try:
            self.sock.close()
        except OSError:
            pass

    # -- serving
    def _serve(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.conns += 1
                n = self.conns
            threading.Thread(target=self._conn, args=(c, n), daemon=True).start()

    def _match(self, method, target):
        with self.lock:
            for r in self.rules:
                if r["times"] == 0:
                    continue
                if r.get("method") and r["method"] != method:
                    continue
                if not re.search(r.get("path", ""), target):
                    continue
                if r["times"] > 0:
                    r["times"] -= 1
                r["hits"] += 1
                return r
        return None

    def _record(self, rec):
        with self.lock:
            self.records.append(rec)

    @staticmethod
    def _read_head(conn, pending):
        while b"\r\n\r\n" not in pending:
            if len(pending) > MAX_HEAD:
                raise _Closed()
            d = conn.recv(65536)
            if not d:
                raise _Closed()
            pending += d
        head, rest = pending.split(b"\r\n\r\n", 1)
        return head, rest

    @staticmethod
    def _headers(lines):
        h = []
        for ln in lines:
            k, _, v = ln.partition(b":")
            h.append((k.strip().decode("latin-1"), v.strip().decode("latin-1")))
        return h

    @staticmethod
    def _get(h, name):
        for k, v in h:
            if k.lower() == name.lower():
                return v
        return None

    @staticmethod
    def _rst(sock):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass

    def _request_done(self):
        with self.idle:
            self.in_flight -= 1
            self.idle.notify_all()

    def _conn(self, c, n):
        pending = b""
        request_open = False
        try:
            while True:
                if request_open:
                    self._request_done()
                    request_open = False
                head, pending = self._read_head(c, pending)
                with self.lock:
                    self.in_flight += 1
                    request_open = True
                lines = head.split(b"\r\n")
                method, target, _ = lines[0].decode("latin-1").split(" ", 2)
                h = self._headers(lines[1:])
                length = int(self._get(h, "Content-Length") or 0)
                rule = self._match(method, target)
                name, arg = parse_action(rule["action"]) if rule else (None, None)
                rec = {"conn": n, "method": method, "target": target, "bytes_in": length}
                if rule:
                    rec["fault"] = name if arg is None else "%s:%s" % (name, arg)
                if name == "reset_request_after":
                    while len(pending) < min(arg, length):
                        d = c.recv(65536)
                        if not d:
                            break
                        pending += d
                    rec.update(status=0, code=None)
                    self._record(rec)
                    self._rst(c)
                    return
                while len(pending) < length:
                    d = c.recv(min(1 << 20, length - len(pending)) or 1)
                    if not d:
                        raise _Closed()
                    pending += d
                body, pending = pending[:length], pending[length:]
                if length:
                    md5 = self._get(h, "Content-MD5")
                    rec["content_md5"] = None if md5 is None else (
                        "match" if md5 == base64.b64encode(hashlib.md5(body).digest()).decode()
                        else "mismatch")
                if name == "corrupt_request_body" and body:
                    body = body[:len(body) // 2] + bytes([body[len(body) // 2] ^ 0xFF]) + \
                        body[len(body) // 2 + 1:]
                close = (self._get(h, "Connection") or "").lower() == "close"
                if name in ("server_busy", "status"):
                    status = 503 if name == "server_busy" else int(arg)
                    code = rule.get("code") or DEFAULT_CODES.get(status)
                    rec.update(status=status, code=code)
                    self._record(rec)
                    self._send_error(c, status, code, method)
                    if close:
                        c.close()
                        return
                    continue
                if name == "delay_ms":
                    time.sleep(arg / 1000.0)
                status, rhead, rbody = self._forward(method, lines, h, body)
                rec.update(status=status, code=self._get(rhead, "x-ms-error-code"))
                self._record(rec)
                self._relay(c, method, status, rhead, rbody, name, arg)
                if name in ("reset_response_after", "truncate_response_after",
                            "stall_response_after", "drop_response"):
                    return
                if name == "close_after_response" or close:
                    c.close()
                    return
        except (_Closed, OSError, ValueError, IndexError):
            pass
        finally:
            if request_open:
                self._request_done()
            try:
                c.close()
            except OSError:
                pass

    def _send_error(self, c, status, code, method):
        body = b""
        if code:
            body = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>"
                    "Injected by faultproxy.\nRequestId:%s\nTime:%s</Message></Error>" % (
                        code, uuid.uuid4(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
                    ).encode()
        hs = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Error")),
              "Content-Length: %d" % len(body), "Content-Type: application/xml",
              "x-ms-request-id: %s" % uuid.uuid4(), "Server: faultproxy"]
        if code:
            hs.append("x-ms-error-code: %s" % code)
        c.sendall(("\r\n".join(hs) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else body))

    def _forward(self, method, lines, h, body):
        """Send the request upstream on a new connection; the whole answer."""
        u = socket.create_connection(self.upstream, timeout=120)
        try:
            out = [lines[0]]
            for ln in lines[1:]:
                if ln.split(b":", 1)[0].strip().lower() in (b"connection", b"keep-alive"):
                    continue
                out.append(ln)
            out.append(b"Connection: close")
            try:
                u.sendall(b"\r\n".join(out) + b"\r\n\r\n" + body)
            except OSError:
                pass      # it answered (and closed) before the whole body: read that
            data = b""
            while True:
                try:
                    d = u.recv(1 << 20)
                except ConnectionResetError:
                    break
                if not d:
                    break
                data += d
        finally:
            u.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        hl = head.split(b"\r\n")
        status = int(hl[0].split(b" ")[1])
        rh = self._headers(hl[1:])
        if (self._get(rh, "Transfer-Encoding") or "").lower() == "chunked":
            rest = self._dechunk(rest)
        elif method != "HEAD" and self._get(rh, "Content-Length") is not None:
            rest = rest[:int(self._get(rh, "Content-Length"))]
        if method == "HEAD":
            rest = b""
        return status, rh, rest

    @staticmethod
    def _dechunk(data):
        out = b""
        while data:
            line, _, data = data.partition(b"\r\n")
            size = int(line.split(b";")[0], 16)
            if size == 0:
                break
            out += data[:size]
            data = data[size + 2:]
        return out

    def _relay(self, c, method, status, rhead, body, name, arg):
        skip = ("connection", "keep-alive", "transfer-encoding")
        hs = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "OK" if status < 300 else "Error"))]
        for k, v in rhead:
            if k.lower() in skip or (k.lower() == "content-length" and method != "HEAD"):
                continue
            hs.append("%s: %s" % (k, v))
        if method != "HEAD":
            hs.append("Content-Length: %d" % len(body))
        hs.append("Connection: keep-alive")
        headb = ("\r\n".join(hs) + "\r\n\r\n").encode("latin-1")
        if name == "drop_response":
            self._rst(c)
            return
        if name in ("reset_response_after", "truncate_response_after", "stall_response_after"):
            c.sendall(headb + body[:arg])
            if name == "reset_response_after":
                self._rst(c)
            elif name == "truncate_response_after":
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            else:
                c.settimeout(600)
                try:
                    while c.recv(65536):
                        pass
                except OSError:
                    pass
            return
        c.sendall(headb + body)


def _cli():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--faults")
    a = ap.parse_args()
    host, port = a.upstream.rsplit(":", 1)
    p = FaultProxy((host, int(port)), a.port)
    if a.faults:
        with open(a.faults) as f:
            p.set_faults(json.load(f))
    print(json.dumps({"port": p.port}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        p.stop()


if __name__ == "__main__":
    _cli()
