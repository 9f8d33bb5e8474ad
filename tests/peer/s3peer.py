#!/usr/bin/env python3
"""s3peer.py - a signature-checking S3 test peer: moto behind a strict front end.

It starts moto's server (auth off) as a child process on a free 127.0.0.1 port
and serves an HTTP/1.1 front end on 127.0.0.1 that checks every S3 request
the way AWS S3 does (SigV4 from the raw request line, payload hash, Content-MD5,
x-amz-checksum-*, clock skew, session tokens, aws-chunked signatures), forwards
valid requests to moto and relays the answers. It counts client connections and
requests (/_peer/stats) and injects faults from rules (/_peer/faults or --faults
FILE). See README.md beside this file.

Standard library only; moto must be importable by --python (default: this
interpreter, else the pyenv 3.11.7 one).
"""
import argparse, base64, binascii, calendar, ctypes, email.utils, hashlib, hmac, http.client
import json, os, re, signal, socket, subprocess, sys, threading, time, urllib.parse, uuid, zlib
from xml.sax.saxutils import escape as xml_escape

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
STREAMING = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
             "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te",
              "trailer", "upgrade", "expect", "content-length"}
MAX_HEAD = 64 * 1024


class S3Error(Exception):
    """An S3 error answer: status, Code, Message and extra XML elements."""
    def __init__(self, status, code, message, close=False, **extra):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.close, self.extra = status, code, message, close, extra


# ---------------------------------------------------------------- checksums
def _crc_table(poly):
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C, _CRC64NVME = _crc_table(0x82F63B78), _crc_table(0x9A6C9329AC4BC9B5)


def _crc_reflected(table, bits, data):
    mask = (1 << bits) - 1
    crc = mask
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return (crc ^ mask).to_bytes(bits // 8, "big")


CHECKSUMS = {  # x-amz-checksum-<name> -> raw digest function
    "crc32": lambda d: (zlib.crc32(d) & 0xFFFFFFFF).to_bytes(4, "big"),
    "crc32c": lambda d: _crc_reflected(_CRC32C, 32, d),
    "crc64nvme": lambda d: _crc_reflected(_CRC64NVME, 64, d),
    "sha1": lambda d: hashlib.sha1(d).digest(),
    "sha256": lambda d: hashlib.sha256(d).digest(),
}


def check_checksum(name, value, data):
    alg = name[len("x-amz-checksum-"):]
    if alg not in CHECKSUMS:
        return  # x-amz-checksum-type / -algorithm / -mode are not values
    try:
        want = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        want = None
    if want is None or len(want) != len(CHECKSUMS[alg](b"")):
        raise S3Error(400, "InvalidRequest", f"Value for {name} header is invalid.")
    if want != CHECKSUMS[alg](data):
        raise S3Error(400, "BadDigest", f"The {alg.upper()} you specified did not match the calculated checksum.")


# ---------------------------------------------------------------- SigV4
def uri_encode(raw: bytes) -> str:
    """RFC 3986 encoding as SigV4 wants it: all but A-Z a-z 0-9 - _ . ~, upper-case hex."""
    return urllib.parse.quote(raw, safe="")


def canonical_query(raw_query: str, drop=()):
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        name, _, value = part.partition("=")
        n = uri_encode(urllib.parse.unquote_to_bytes(name.encode("latin-1")))  # latin-1: the raw wire bytes
        if n in drop:
            continue
        pairs.append((n, uri_encode(urllib.parse.unquote_to_bytes(value.encode("latin-1")))))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def canonical_headers(headers, signed_list):
    """name:value lines for the signed headers: values trimmed, inner whitespace runs collapsed, repeats joined by ','."""
    out = []
    for name in signed_list:
        vals = [v for n, v in headers if n.lower() == name]
        if not vals:
            raise S3Error(403, "SignatureDoesNotMatch", f"Signed header '{name}' is not present in the request.")
        out.append(f"{name}:{','.join(' '.join(v.split()) for v in vals)}\n")
    return "".join(out)


def hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("latin-1"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k = hmac256(("AWS4" + secret).encode("utf-8"), date)
    return hmac256(hmac256(hmac256(k, region), service), "aws4_request")


def amz_now():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def parse_amz_date(s):
    try:
        return calendar.timegm(time.strptime(s, "%Y%m%dT%H%M%SZ"))
    except (ValueError, TypeError):
        return None


class Request:
    def __init__(self, method, target, version, headers):
        self.method, self.target, self.version, self.headers = method, target, version, headers
        self.path, _, self.query = target.partition("?")
        self.body = b""

    def get(self, name, default=None):
        vals = [v for n, v in self.headers if n.lower() == name]
        return ",".join(vals) if vals else default

    def has(self, name):
        return any(n.lower() == name for n, _ in self.headers)


class Verifier:
    """Checks a request as S3 does; see README.md for the list."""
    def __init__(self, keys, region, max_skew):
        self.keys, self.region, self.max_skew = keys, region, max_skew

    def check_head(self, req, now=None):
        """Checks that need only the request head. Returns an auth context for check_body."""
        q = req.query
        query_auth = re.search(r"(^|&)X-Amz-Algorithm=", q) is not None
        auth = req.get("authorization")
        if auth and query_auth:
            raise S3Error(400, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm "
                          "query parameter, Signature query string parameter or the Authorization header should be specified")
        if (auth or "").startswith("AWS ") or re.search(r"(^|&)AWSAccessKeyId=", q):
            raise S3Error(400, "InvalidRequest", "The authorization mechanism you have provided is not supported. "
                          "Please use AWS4-HMAC-SHA256. (SigV2 is not accepted)")
        if not auth and not query_auth:
            raise S3Error(403, "AccessDenied", "Access Denied (anonymous request: no Authorization header)")
        now = time.time() if now is None else now
        if auth:
            m = re.fullmatch(r"AWS4-HMAC-SHA256 +(.*)", auth.strip())
            if not m:
                raise S3Error(400, "InvalidArgument", "Unsupported Authorization Type (only AWS4-HMAC-SHA256 is checked)")
            fields = {}
            for part in m.group(1).split(","):
                k, _, v = part.strip().partition("=")
                fields[k] = v
            if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
                raise S3Error(400, "AuthorizationHeaderMalformed", "The authorization header is malformed; "
                              "it needs exactly Credential, SignedHeaders and Signature")
            credential, signed, signature = fields["Credential"], fields["SignedHeaders"], fields["Signature"]
            amz_date = req.get("x-amz-date")
            if amz_date is None and req.get("date"):
                try:
                    amz_date = time.strftime("%Y%m%dT%H%M%SZ", email.utils.parsedate_to_datetime(req.get("date")).utctimetuple())
                except (TypeError, ValueError):
                    amz_date = None
            token = req.get("x-amz-security-token")
            payload = req.get("x-amz-content-sha256")
        else:
            params = dict(urllib.parse.parse_qsl(q, keep_blank_values=True))
            if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
                raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
            need = ["X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"]
            if any(p not in params for p in need):
                raise S3Error(400, "AuthorizationQueryParametersError", "Query-string authentication version 4 requires the "
                              "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
            credential, signed, signature = params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Signature"]
            amz_date, token = params["X-Amz-Date"], params.get("X-Amz-Security-Token")
            payload = req.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            try:
                expires = int(params["X-Amz-Expires"])
            except ValueError:
                expires = -1
            if not 0 <= expires <= 604800:
                raise S3Error(400, "AuthorizationQueryParametersError", "X-Amz-Expires must be between 0 and 604800 seconds")
        # credential scope: AKID/date/region/s3/aws4_request
        scope_parts = credential.split("/")
        if len(scope_parts) != 5:
            raise S3Error(400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\". ({credential})")
        akid, date, region, service, term = scope_parts
        if akid not in self.keys:
            raise S3Error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", AWSAccessKeyId=akid)
        secret, want_token = self.keys[akid]
        if want_token is not None and token is None:
            raise S3Error(403, "InvalidToken", "The provided token is malformed or otherwise invalid (this key needs X-Amz-Security-Token).")
        if want_token is None and token is not None:
            raise S3Error(400, "InvalidToken", "The provided token is malformed or otherwise invalid (this key takes no token).")
        if want_token is not None and not hmac.compare_digest(token.encode(), want_token.encode()):
            raise S3Error(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
        if term != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; incorrect terminal \"{term}\". This endpoint uses \"aws4_request\".")
        if service != "s3":
            raise S3Error(400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; incorrect service \"{service}\". This endpoint belongs to \"s3\".")
        if region != self.region:
            raise S3Error(400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; the region '{region}' is wrong; expecting '{self.region}'", Region=self.region)
        t = parse_amz_date(amz_date)
        if t is None:
            raise S3Error(403, "AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
        if date != amz_date[:8]:
            raise S3Error(400 if auth else 403, "AuthorizationHeaderMalformed" if auth else "AuthorizationQueryParametersError",
                          f"Invalid credential date \"{date}\". This date is not the same as X-Amz-Date: \"{amz_date[:8]}\".")
        if auth and abs(now - t) > self.max_skew:
            raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large.",
                          RequestTime=amz_date, ServerTime=amz_now(), MaxAllowedSkewMilliseconds=str(self.max_skew * 1000))
        if not auth:
            if t - now > self.max_skew:
                raise S3Error(403, "AccessDenied", "Request is not valid yet")
            if now > t + expires:
                raise S3Error(403, "AccessDenied", "Request has expired", X_Amz_Expires=str(expires), Expires=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + expires)), ServerTime=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
        signed_list = signed.split(";")
        if "host" not in signed_list:
            raise S3Error(403 if auth else 400, "AccessDenied" if auth else "AuthorizationQueryParametersError", "Host header is not signed.")
        # S3 refuses unsigned x-amz-* headers (both auth types) but tolerates an unsigned x-amz-content-sha256
        unsigned = sorted({n.lower() for n, _ in req.headers if n.lower().startswith("x-amz-")}
                          - set(signed_list) - {"x-amz-content-sha256"})
        if unsigned:
            raise S3Error(403, "AccessDenied", "There were headers present in the request which were not signed", HeadersNotSigned=", ".join(unsigned))
        if auth:
            if payload is None:
                raise S3Error(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        if not (payload in ("UNSIGNED-PAYLOAD",) + STREAMING or re.fullmatch(r"[0-9a-f]{64}", payload)):
            raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., "
                          "or a valid sha256 value.", ArgumentName="x-amz-content-sha256", ArgumentValue=payload)
        # canonical request: path exactly as sent, query decoded/re-encoded/sorted
        cquery = canonical_query(q, drop=("X-Amz-Signature",) if not auth else ())
        creq = f"{req.method}\n{req.path}\n{cquery}\n{canonical_headers(req.headers, signed_list)}\n{signed}\n{payload}"
        scope = f"{date}/{region}/{service}/{term}"
        sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode('latin-1')).hexdigest()}"
        key = signing_key(secret, date, region, service)
        expect = hmac.new(key, sts.encode("latin-1"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expect, signature.lower() if re.fullmatch(r"[0-9a-fA-F]{64}", signature) else "x"):
            raise S3Error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. "
                          "Check your key and signing method.", AWSAccessKeyId=akid, StringToSign=sts,
                          SignatureProvided=signature, CanonicalRequest=creq)
        warnings = []
        if urllib.parse.quote(urllib.parse.unquote_to_bytes(req.path.encode("latin-1")), safe="/") != req.path:
            warnings.append(f"path {req.path!r} is not encoded as SigV4's UriEncode would (RFC 3986, upper-case hex); "
                                 "accepted because it was signed as sent")
        return {"payload": payload, "key": key, "amz_date": amz_date, "scope": scope, "seed": signature.lower(),
                "warnings": warnings, "creq": creq}

    def check_body(self, req, ctx):
        """Checks of the body; returns (body to forward, header changes)."""
        body, payload, changes = req.body, ctx["payload"], {}
        if payload in STREAMING:
            body, changes = self.decode_aws_chunked(req, ctx)
        elif payload != "UNSIGNED-PAYLOAD" and hashlib.sha256(body).hexdigest() != payload:
            raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.",
                          ClientComputedContentSHA256=payload, S3ComputedContentSHA256=hashlib.sha256(body).hexdigest())
        md5 = req.get("content-md5")
        if md5 is not None:
            try:
                digest = base64.b64decode(md5.strip(), validate=True)
            except (binascii.Error, ValueError):
                digest = b""
            if len(digest) != 16:
                raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.", **{"Content-MD5": md5})
            if digest != hashlib.md5(body).digest():
                raise S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.",
                              ExpectedDigest=md5, CalculatedDigest=base64.b64encode(hashlib.md5(body).digest()).decode())
        # whole-body checksums: not for CompleteMultipartUpload (composite) nor CopyObject/UploadPartCopy
        composite = (req.method == "POST" and re.search(r"(^|&)uploadId=", req.query)) or req.has("x-amz-copy-source")
        if not composite:
            for name, value in list(req.headers) + list(changes.items()):
                if name.lower().startswith("x-amz-checksum-") and value is not None:
                    check_checksum(name.lower(), value, body)
        return body, changes

    def decode_aws_chunked(self, req, ctx):
        payload, raw, pos, out = ctx["payload"], req.body, 0, []
        signed = payload.startswith("STREAMING-AWS4-HMAC-SHA256")
        prev = ctx["seed"]
        try:
            want_len = int(req.get("x-amz-decoded-content-length"))
        except (TypeError, ValueError):
            raise S3Error(411, "MissingContentLength", "You must provide the x-amz-decoded-content-length HTTP header.")

        def bad(msg):
            return S3Error(400, "IncompleteBody", f"aws-chunked body: {msg}")
        while True:
            eol = raw.find(b"\r\n", pos)
            if eol < 0:
                raise bad("missing chunk header")
            size_s, _, ext = raw[pos:eol].decode("latin-1").partition(";")
            try:
                size = int(size_s, 16)
            except ValueError:
                raise bad(f"bad chunk size {size_s!r}")
            pos = eol + 2
            data = raw[pos:pos + size]
            if len(data) != size:
                raise bad("chunk shorter than its size")
            pos += size
            if signed:
                k, _, sig = ext.partition("=")
                if k.strip() != "chunk-signature":
                    raise S3Error(403, "SignatureDoesNotMatch", "aws-chunked chunk without chunk-signature")
                sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{ctx['amz_date']}\n{ctx['scope']}\n{prev}\n{EMPTY_SHA256}\n{hashlib.sha256(data).hexdigest()}"
                prev = hmac.new(ctx["key"], sts.encode("latin-1"), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(prev, sig.strip().lower()):
                    raise S3Error(403, "SignatureDoesNotMatch", f"The chunk signature of chunk {len(out)} does not match.")
            if size == 0:
                break
            if raw[pos:pos + 2] != b"\r\n":
                raise bad("chunk data not followed by CRLF")
            pos += 2
            out.append(data)
        body = b"".join(out)
        changes = {}
        if payload.endswith("-TRAILER"):
            trailer_names = [t.strip().lower() for t in (req.get("x-amz-trailer") or "").split(",") if t.strip()]
            trailers, canon = {}, ""
            while True:
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    raise bad("unterminated trailer")
                line = raw[pos:eol].decode("latin-1")
                pos = eol + 2
                if line == "":
                    break
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "x-amz-trailer-signature":
                    if not signed:
                        raise bad("trailer signature in an unsigned stream")
                    sts = (f"AWS4-HMAC-SHA256-TRAILER\n{ctx['amz_date']}\n{ctx['scope']}\n{prev}\n"
                           f"{hashlib.sha256(canon.encode('latin-1')).hexdigest()}")
                    if not hmac.compare_digest(hmac.new(ctx["key"], sts.encode("latin-1"), hashlib.sha256).hexdigest(), value.strip().lower()):
                        raise S3Error(403, "SignatureDoesNotMatch", "The trailer signature does not match.")
                    trailers[name] = value.strip()
                else:
                    trailers[name] = value.strip()
                    canon += f"{name}:{value.strip()}\n"
            if signed and "x-amz-trailer-signature" not in trailers:
                raise S3Error(403, "SignatureDoesNotMatch", "Missing x-amz-trailer-signature")
            for name in trailer_names:
                if name not in trailers:
                    raise S3Error(400, "InvalidRequest", f"Expected trailer {name} is missing")
                changes[name] = trailers[name]
        elif raw[pos:pos + 2] == b"\r\n":
            pos += 2
        if pos != len(raw):
            raise bad(f"{len(raw) - pos} bytes after the final chunk")
        if len(body) != want_len:
            raise S3Error(400, "IncompleteBody", f"Decoded body is {len(body)} bytes, x-amz-decoded-content-length says {want_len}")
        return body, changes


# ---------------------------------------------------------------- faults
ACTIONS = {"slowdown", "status", "delay_ms", "reset_response_after", "truncate_response_after",
           "stall_response_after", "reset_request_after", "request_timeout", "close_after_response",
           "drop_response"}
NO_ARG = ("slowdown", "request_timeout", "close_after_response", "drop_response")


def parse_rules(data):
    """Rules: a list (or {"rules": [...]}) of {"method","path","times","action"}; action is
    "slowdown" | "request_timeout" | "status:500" | {"status":500} | {"delay_ms":700} | ..."""
    if isinstance(data, dict):
        data = data.get("rules", [])
    if not isinstance(data, list):
        raise ValueError("rules must be a JSON list")
    rules = []
    for r in data:
        act = r.get("action")
        if isinstance(act, dict):
            if len(act) != 1:
                raise ValueError(f"action needs exactly one key: {act}")
            (name, arg), = act.items()
        elif isinstance(act, str):
            name, _, arg = act.partition(":")
            arg = arg or None
        else:
            raise ValueError(f"bad action {act!r}")
        if name not in ACTIONS:
            raise ValueError(f"unknown action {name!r}; known: {sorted(ACTIONS)}")
        if name not in NO_ARG:
            if arg is None:
                raise ValueError(f"action {name} needs a number")
            arg = int(arg)
        rules.append({"method": (r.get("method") or "").upper() or None, "path": r.get("path", ""),
                      "re": re.compile(r.get("path", "")), "times": int(r.get("times", -1)), "action": name,
                      "arg": arg, "code": r.get("code"), "hits": 0})
    return rules


STATUS_CODES = {500: "InternalError", 501: "NotImplemented", 502: "BadGateway", 503: "ServiceUnavailable",
                504: "GatewayTimeout", 400: "BadRequest", 403: "AccessDenied", 404: "NoSuchKey", 409: "Conflict"}


# ---------------------------------------------------------------- server
class Peer:
    def __init__(self, args, keys):
        self.args, self.verifier = args, Verifier(keys, args.region, args.max_skew)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.rules, self.rules_mtime = [], None
        self.moto_proc, self.moto_port = None, None
        self.logf = open(args.log, "a", buffering=1) if args.log else None
        self.in_flight = {}  # S3 requests begun and not yet answered (not reset with the stats)
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            open_now = self.stats["open_connections"] if hasattr(self, "stats") else 0
            self.gen = getattr(self, "gen", 0) + 1  # a connection is counted once per generation
            self.stats = {"connections": 0, "requests": 0, "connections_accepted": 0, "open_connections": open_now,
                          "max_open_connections": open_now, "rejected": 0, "errors": {}, "methods": {},
                          "faults_fired": 0, "bytes_in": 0, "bytes_out": 0, "warnings": []}
            self.requests = []  # one record per S3 request, GET /_peer/requests

    def bump(self, **kv):
        with self.lock:
            for k, v in kv.items():
                self.stats[k] += v

    def log(self, msg):
        if self.logf:
            self.logf.write(f"{time.strftime('%H:%M:%S')} {msg}\n")

    def warn(self, msg):
        self.log("WARNING " + msg)
        with self.lock:
            if len(self.stats["warnings"]) < 100:
                self.stats["warnings"].append(msg)

    # --- moto
    def start_moto(self):
        for attempt in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            out = open(self.args.log + ".moto", "ab") if self.args.log else subprocess.DEVNULL
            parent, libc = os.getpid(), ctypes.CDLL("libc.so.6", use_errno=True)

            def child_setup():  # moto dies with us even if we are SIGKILLed
                libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
                if os.getppid() != parent:
                    os._exit(1)
            self.moto_proc = subprocess.Popen([self.args.python, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                              stdin=subprocess.DEVNULL, stdout=out, stderr=out, preexec_fn=child_setup)
            deadline = time.time() + 30
            while time.time() < deadline and self.moto_proc.poll() is None:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/moto-api/")
                    if c.getresponse().status == 200:
                        self.moto_port = port
                        return
                except OSError:
                    time.sleep(0.02)
            self.stop_moto()
        raise RuntimeError("moto server did not start (is moto importable by %s?)" % self.args.python)

    def stop_moto(self):
        p, self.moto_proc = self.moto_proc, None
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # --- rules
    def reload_rules(self):
        f = self.args.faults
        if not f:
            return
        try:
            mtime = os.stat(f).st_mtime_ns
        except OSError:
            mtime = None
        if mtime == self.rules_mtime:
            return
        self.rules_mtime = mtime
        try:
            with open(f) as fh:
                rules = parse_rules(json.load(fh)) if mtime else []
        except Exception as e:  # noqa: BLE001 - a bad rules file must not kill the peer
            self.warn(f"rules file {f} ignored: {e}")
            return
        with self.lock:
            self.rules = rules
        self.log(f"loaded {len(rules)} fault rules from {f}")

    def match_fault(self, req):
        self.reload_rules()
        with self.lock:
            for r in self.rules:
                if r["times"] != 0 and (r["method"] in (None, req.method)) and r["re"].search(req.target):
                    if r["times"] > 0:
                        r["times"] -= 1
                    r["hits"] += 1
                    self.stats["faults_fired"] += 1
                    return r
        return None

    # --- connection handling
    def serve(self, listener):
        listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                sock, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            self.bump(connections_accepted=1)
            threading.Thread(target=self.handle_conn, args=(sock,), daemon=True).start()

    def handle_conn(self, sock):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = {"sock": sock, "buf": b"", "counted": None, "id": None}
        with self.lock:
            self.stats["open_connections"] += 1
            self.stats["max_open_connections"] = max(self.stats["max_open_connections"], self.stats["open_connections"])
        try:
            while not self.stop.is_set():
                sock.settimeout(self.args.idle_timeout)
                req = self.read_head(conn)
                if req is None:
                    break
                sock.settimeout(60)
                if not self.handle_request(conn, req):
                    break
        except OSError:  # includes ConnectionError: the client or a fault ended the connection
            pass
        except Exception as e:  # noqa: BLE001 - a peer bug: make it visible, close this connection only
            import traceback
            self.warn(f"internal error: {e!r}")
            self.log(traceback.format_exc())
        finally:
            with self.lock:
                self.stats["open_connections"] -= 1
            try:
                sock.close()
            except OSError:
                pass

    def read_head(self, conn):
        while b"\r\n\r\n" not in conn["buf"]:
            if len(conn["buf"]) > MAX_HEAD:
                raise ConnectionError("request head too large")
            try:
                d = conn["sock"].recv(65536)
            except socket.timeout:
                return None
            if not d:
                return None
            conn["buf"] += d
        head, _, conn["buf"] = conn["buf"].partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        while lines and lines[0] == "":  # stray CRLF between requests
            lines.pop(0)
        parts = lines[0].split(" ") if lines else []
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self.send(conn, None, 400, "Bad Request", [], b"malformed request line", close=True)
            return None
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                self.send(conn, None, 400, "Bad Request", [], b"malformed header line", close=True)
                return None
            headers.append((name, value.strip(" \t")))
        return Request(parts[0], parts[1], parts[2], headers)

    def read_exact(self, conn, n, limit=None):
        """Read n body bytes; with limit, stop after `limit` bytes and return them (for reset_request_after)."""
        want = n if limit is None else min(n, limit)
        chunks, have = [conn["buf"][:want]], len(conn["buf"][:want])
        conn["buf"] = conn["buf"][want:]
        while have < want:
            d = conn["sock"].recv(min(1 << 20, want - have))
            if not d:
                raise ConnectionError("client closed during body")
            chunks.append(d)
            have += len(d)
        return b"".join(chunks)

    def read_http_chunked(self, conn):
        out = []
        while True:
            while b"\r\n" not in conn["buf"]:
                d = conn["sock"].recv(65536)
                if not d:
                    raise ConnectionError("client closed during chunked body")
                conn["buf"] += d
            line, _, conn["buf"] = conn["buf"].partition(b"\r\n")
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise S3Error(400, "IncompleteBody", "malformed HTTP chunk size", close=True)
            if size == 0:
                while True:  # trailer section
                    while b"\r\n" not in conn["buf"]:
                        d = conn["sock"].recv(65536)
                        if not d:
                            raise ConnectionError("client closed during chunked trailer")
                        conn["buf"] += d
                    line, _, conn["buf"] = conn["buf"].partition(b"\r\n")
                    if not line:
                        return b"".join(out)
            out.append(self.read_exact(conn, size))
            self.read_exact(conn, 2)

    def wants_close(self, req):
        c = (req.get("connection") or "").lower()
        return "close" in c or (req.version == "HTTP/1.0" and "keep-alive" not in c)

    def handle_request(self, conn, req):
        """Handle one request; return False when the connection must end."""
        close = self.wants_close(req)
        if req.path.startswith("/_peer/"):
            body = self.read_body_plain(conn, req)
            status, obj = self.control(req, body)
            self.send(conn, req, status, http.client.responses.get(status, ""), [("Content-Type", "application/json")],
                      json.dumps(obj, indent=1).encode(), close=close)
            return not close
        if req.path.startswith("/moto-api/"):
            body = self.read_body_plain(conn, req)
            return self.forward_and_relay(conn, req, body, {}, None, close)
        with self.lock:
            if conn["counted"] != self.gen:
                conn["counted"] = self.gen
                self.stats["connections"] += 1
                conn["id"] = self.stats["connections"]
            self.stats["requests"] += 1
            self.stats["methods"][req.method] = self.stats["methods"].get(req.method, 0) + 1
        fault = self.match_fault(req)
        req.status, req.code, t0 = None, None, time.time()
        with self.lock:
            self.in_flight[id(req)] = {"method": req.method, "target": req.target, "t": t0}
            gen = self.gen      # recorded only if no reset came meanwhile: the
                                # client may see the answer (and reset) first
        try:
            return self.handle_s3(conn, req, fault, close)
        finally:
            rec = {"conn": conn["id"], "method": req.method, "target": req.target, "status": req.status,
                   "code": req.code, "bytes_in": len(req.body), "t": t0, "ms": round((time.time() - t0) * 1000, 1),
                   "content_md5": req.has("content-md5")}
            if fault:
                rec["fault"] = fault["action"]
            with self.lock:
                self.in_flight.pop(id(req), None)
                if gen == self.gen and len(self.requests) < 100000:
                    self.requests.append(rec)

    def handle_s3(self, conn, req, fault, close):
        expect = "100-continue" in (req.get("expect") or "").lower()
        clen, te, body_read = 0, None, False
        try:
            te = req.get("transfer-encoding")
            aws_chunked = "aws-chunked" in (req.get("content-encoding") or "").lower() and req.has("x-amz-decoded-content-length")
            if te and not (te.strip().lower() == "chunked" and aws_chunked):
                raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header "
                              "(Transfer-Encoding: %s is not accepted)" % te, close=True)
            if not te and req.get("content-length") is None and req.method in ("PUT",):
                raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.", close=True)
            clen = 0
            if not te:
                try:
                    clen = int(req.get("content-length") or "0")
                    assert clen >= 0
                except (ValueError, AssertionError):
                    raise S3Error(400, "BadRequest", "Invalid Content-Length", close=True)
            if not req.get("host"):
                raise S3Error(400, "InvalidRequest", "Missing Host header", close=True)
            if fault and fault["action"] == "reset_request_after":
                if expect:
                    conn["sock"].sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                got = self.read_exact(conn, clen, limit=fault["arg"]) if not te else b""
                self.log(f"FAULT reset_request_after {len(got)} bytes: {req.method} {req.target}")
                self.rst(conn["sock"])
                return False
            ctx = None
            if not fault or fault["action"] in ("delay_ms", "reset_response_after", "truncate_response_after",
                                                "stall_response_after", "close_after_response",
                                                "drop_response"):
                ctx = self.verifier.check_head(req)  # raises before 100-continue, as S3 does
            if expect:
                conn["sock"].sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            try:
                req.body = self.read_http_chunked(conn) if te else self.read_exact(conn, clen)
                body_read = True
            except socket.timeout:
                raise S3Error(400, "RequestTimeout", "Your socket connection to the server was not read from or written "
                              "to within the timeout period. Idle connections will be closed.", close=True)
            self.bump(bytes_in=len(req.body))
            if fault:
                self.log(f"FAULT {fault['action']}:{fault['arg']} on {req.method} {req.target}")
                if fault["action"] == "delay_ms":
                    time.sleep(fault["arg"] / 1000)
                elif fault["action"] == "slowdown":
                    raise S3Error(503, "SlowDown", "Please reduce your request rate.")
                elif fault["action"] == "request_timeout":
                    raise S3Error(400, "RequestTimeout", "Your socket connection to the server was not read from or "
                                  "written to within the timeout period. Idle connections will be closed.", close=True)
                elif fault["action"] == "status":
                    st = fault["arg"]
                    raise S3Error(st, fault.get("code") or STATUS_CODES.get(st, "InternalError"),
                                  "We encountered an internal error. Please try again." if st == 500 else f"Injected status {st}.")
            for w in ctx["warnings"] if ctx else ():
                self.warn(w)
            body, changes = self.verifier.check_body(req, ctx)
            if te:
                changes["transfer-encoding"] = None
            return self.forward_and_relay(conn, req, body, changes, fault, close)
        except S3Error as e:
            with self.lock:
                self.stats["rejected"] += 1
                self.stats["errors"][e.code] = self.stats["errors"].get(e.code, 0) + 1
            req.status, req.code = e.status, e.code
            self.log(f"{e.status} {e.code} {req.method} {req.target}: {e.message}")
            if not body_read and (te or clen > 0) and not e.close:
                if expect or te or clen > (64 << 20):
                    close = True  # S3 answers before the body; the connection cannot be reused
                else:
                    self.read_exact(conn, clen)  # keep the connection in step
            self.send_error(conn, req, e, close=close or e.close)
            return not (close or e.close)

    def read_body_plain(self, conn, req):
        return self.read_exact(conn, int(req.get("content-length") or "0"))

    def send_error(self, conn, req, e, close):
        rid = uuid.uuid4().hex[:16].upper()
        extra = "".join(f"<{k.replace('_', '-')}>{xml_escape(str(v))}</{k.replace('_', '-')}>" for k, v in e.extra.items())
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{e.code}</Code><Message>{xml_escape(e.message)}</Message>'
               f"{extra}<RequestId>{rid}</RequestId><HostId>s3peer</HostId></Error>").encode("utf-8")
        self.send(conn, req, e.status, http.client.responses.get(e.status, "Error"),
                  [("Content-Type", "application/xml"), ("x-amz-request-id", rid)], xml, close=close)

    def send(self, conn, req, status, reason, headers, body, close, fault=None, head_len=None):
        is_head = req is not None and req.method == "HEAD"
        hdrs = list(headers) + [("Content-Length", str(head_len if head_len is not None else len(body)))]
        if close:
            hdrs.append(("Connection", "close"))
        head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{n}: {v}\r\n" for n, v in hdrs) + "\r\n"
        data = head.encode("latin-1") + (b"" if is_head else body)
        self.bump(bytes_out=len(data))
        sock = conn["sock"]
        if fault and fault["action"] == "drop_response":  # done, but not a byte of the answer
            self.rst(sock)
            raise ConnectionError("fault dropped the answer")
        if fault and fault["action"] in ("reset_response_after", "truncate_response_after", "stall_response_after"):
            cut = len(head.encode("latin-1")) + max(0, fault["arg"])
            sock.sendall(data[:cut])
            if fault["action"] == "reset_response_after":
                self.rst(sock)
            elif fault["action"] == "truncate_response_after":
                sock.shutdown(socket.SHUT_WR)
                self.drain_close(sock)
            else:
                sock.settimeout(0.5)
                deadline = time.time() + 600
                while not self.stop.is_set() and time.time() < deadline:
                    try:
                        if not sock.recv(65536):
                            break
                    except socket.timeout:
                        continue
            raise ConnectionError("fault ended the connection")
        sock.sendall(data)
        if fault and fault["action"] == "close_after_response":  # a keep-alive answer, then the server hangs up
            sock.shutdown(socket.SHUT_WR)
            self.drain_close(sock)
            raise ConnectionError("fault closed the connection")
        if close:
            sock.shutdown(socket.SHUT_WR)
            self.drain_close(sock)

    def drain_close(self, sock):
        """Close without RST: read what the client still sends, for a short while."""
        sock.settimeout(0.3)
        try:
            for _ in range(100):
                if not sock.recv(65536):
                    break
        except OSError:
            pass

    @staticmethod
    def rst(sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()

    def forward_and_relay(self, conn, req, body, changes, fault, close):
        hdrs = []
        for n, v in req.headers:
            ln = n.lower()
            if ln in HOP_BY_HOP or ln in changes:
                continue
            if ln == "content-encoding" and "aws-chunked" in v.lower():
                v = ",".join(p for p in v.split(",") if p.strip().lower() != "aws-chunked")
                if not v:
                    continue
            if ln in ("x-amz-decoded-content-length", "x-amz-trailer") and req.get("x-amz-content-sha256") in STREAMING:
                continue
            if ln == "x-amz-content-sha256" and v in STREAMING:
                v = hashlib.sha256(body).hexdigest()
            if ln == "content-type" and body and v.lower().startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                self.warn(f"{req.method} {req.path}: Content-Type {v} replaced by application/octet-stream towards moto "
                          "(moto's Flask would eat the body; real S3 stores it)")
                v = "application/octet-stream"
            hdrs.append((n, v))
        hdrs += [(n, v) for n, v in changes.items() if v is not None]
        if body or req.method in ("PUT", "POST"):
            hdrs.append(("Content-Length", str(len(body))))
        hdrs.append(("Connection", "close"))
        try:
            up = socket.create_connection(("127.0.0.1", self.moto_port), timeout=300)
        except OSError as e:
            self.warn(f"moto unreachable: {e}")
            self.send_error(conn, req, S3Error(500, "InternalError", f"s3peer: moto is unreachable ({e})"), close=close)
            return not close
        try:
            up.sendall((f"{req.method} {req.target} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in hdrs) + "\r\n").encode("latin-1") + body)
            resp = http.client.HTTPResponse(up, method=req.method)
            try:
                resp.begin()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self.warn(f"moto failed on {req.method} {req.target}: {e!r}")
                self.send_error(conn, req, S3Error(500, "InternalError", f"s3peer: moto failed ({e!r})"), close=close)
                return not close
            rhdrs = [(n, v) for n, v in resp.getheaders() if n.lower() not in HOP_BY_HOP]
            head_len = None
            if req.method == "HEAD" or resp.status in (204, 304):
                head_len = resp.getheader("Content-Length") or 0
            reason, status = resp.reason, resp.status
        finally:
            up.close()
        if (status == 200 and req.method == "POST" and re.search(r"(^|&)uploadId=", req.query)
                and data.lstrip().startswith(b"<?xml") and b"<CompleteMultipartUploadResponse" in data):
            # moto 5.2.1 names the root of a CompleteMultipartUpload reply
            # <CompleteMultipartUploadResponse>; S3 says ...Result, and so
            # does the peer (evshare reads S3's reply only)
            data = data.replace(b"CompleteMultipartUploadResponse", b"CompleteMultipartUploadResult", 2)
        req.status = status
        if status >= 300 and data:
            m = re.search(rb"<Code>([^<]*)</Code>", data)
            req.code = m.group(1).decode("latin-1") if m else None
        self.log(f"{status} {req.method} {req.target} in={len(body)} out={len(data)}")
        self.send(conn, req, status, reason, rhdrs, data, close=close, fault=fault, head_len=head_len)
        return not close

    def control(self, req, body):
        p = req.path
        if p == "/_peer/stats" and req.method == "GET":
            with self.lock:
                return 200, json.loads(json.dumps(self.stats))
        if p == "/_peer/requests" and req.method == "GET":
            with self.lock:
                return 200, list(self.requests)
        if p == "/_peer/in-flight" and req.method == "GET":
            with self.lock:
                return 200, sorted(self.in_flight.values(), key=lambda r: r["t"])
        if p == "/_peer/reset-stats" and req.method == "POST":
            self.reset_stats()
            return 200, {"ok": True}
        if p == "/_peer/faults":
            if req.method in ("POST", "PUT"):
                try:
                    rules = parse_rules(json.loads(body or b"[]"))
                except (ValueError, TypeError, AttributeError, re.error) as e:
                    return 400, {"error": str(e)}
                with self.lock:
                    self.rules = rules
                return 200, {"ok": True, "rules": len(rules)}
            if req.method == "DELETE":
                with self.lock:
                    self.rules = []
                return 200, {"ok": True}
            with self.lock:
                return 200, [{k: v for k, v in r.items() if k != "re"} for r in self.rules]
        if p == "/_peer/health":
            return 200, {"ok": True}
        return 404, {"error": "unknown control path " + p}


def load_keys(args):
    keys = {}
    entries = list(args.key or [])
    if args.keys:
        for line in open(args.keys):
            line = line.strip()
            if line and not line.startswith("#"):
                entries.append(line)
    for e in entries:
        parts = e.split(":", 2)
        if len(parts) < 2:
            sys.exit(f"bad key {e!r}: want AKID:SECRET[:TOKEN]")
        keys[parts[0]] = (parts[1], parts[2] if len(parts) == 3 else None)
    if not keys:
        keys["AKIDPEERTEST"] = ("peer-test-secret", None)
    return keys


def find_python():
    import importlib.util
    if importlib.util.find_spec("moto"):
        return sys.executable
    try:
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    except OSError:
        root = os.path.expanduser("~/.pyenv")
    return os.path.join(root or os.path.expanduser("~/.pyenv"), "versions", "3.11.7", "bin", "python3")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--keys", help="file with AKID:SECRET[:TOKEN] lines")
    ap.add_argument("--key", action="append", help="AKID:SECRET[:TOKEN] (repeatable)")
    ap.add_argument("--max-skew", type=int, default=900)
    ap.add_argument("--ready-file")
    ap.add_argument("--log")
    ap.add_argument("--faults", help="JSON rules file, reloaded when it changes")
    ap.add_argument("--idle-timeout", type=float, default=60)
    ap.add_argument("--python", help="interpreter with moto (default: this one or pyenv 3.11.7)")
    args = ap.parse_args()
    args.python = args.python or find_python()
    peer = Peer(args, load_keys(args))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(128)

    def on_signal(signum, frame):
        peer.stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        peer.start_moto()
        info = {"endpoint": f"http://127.0.0.1:{listener.getsockname()[1]}", "pid": os.getpid(),
                "moto_pid": peer.moto_proc.pid, "moto_port": peer.moto_port, "region": args.region}
        if args.ready_file:
            tmp = args.ready_file + ".tmp"
            with open(tmp, "w") as f:
                json.dump(info, f)
            os.replace(tmp, args.ready_file)
        print(json.dumps(info), flush=True)
        peer.serve(listener)
    finally:
        listener.close()
        peer.stop_moto()


if __name__ == "__main__":
    main()
