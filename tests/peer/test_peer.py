#!/usr/bin/env python3
"""Self-test of the signature-checking S3 peer. Run with the pyenv Python (boto3, moto):
    $(pyenv root)/versions/3.11.7/bin/python3 tests/peer/test_peer.py [-v] [-k NAME]
Ends with 'N passed, N failed'; exits non-zero on failure."""
import base64, hashlib, hmac, http.client, io, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, zlib
import urllib.parse, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peerlib  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

REGION = "us-east-1"
KEY = ("AKIDPEERSELFTEST", "s3cr3t/with+chars=", None)
TKEY = ("ASIATEMPSESSION1", "temp-secret", "FwoGZXIvYXdzE//session+token=")
BUCKET = "peer-selftest"
TESTS, VERBOSE = [], "-v" in sys.argv
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None


def test(fn):
    TESTS.append(fn)
    return fn


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


# ------------------------------------------------ an independent minimal SigV4 signer
def enc(s, safe=""):
    return urllib.parse.quote(s.encode() if isinstance(s, str) else s, safe=safe)


def sign(method, path, query, headers, payload_hash, key=KEY, amz_date=None, region=REGION, unsigned=()):
    """path: already-encoded path as sent; query: list of (name, value) decoded. Adds auth headers."""
    akid, secret, token = key
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = dict(headers)
    headers["x-amz-date"] = amz_date
    if payload_hash is not None:
        headers["x-amz-content-sha256"] = payload_hash
    if token:
        headers["x-amz-security-token"] = token
    lower = {k.lower(): str(v).strip() for k, v in headers.items() if k.lower() not in unsigned}
    names = sorted(lower)
    cq = "&".join(sorted(f"{enc(n)}={enc(v)}" for n, v in query))
    creq = "\n".join([method, path, cq, "".join(f"{n}:{lower[n]}\n" for n in names), ";".join(names),
                      payload_hash or "UNSIGNED-PAYLOAD"])
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = f"AWS4-HMAC-SHA256 Credential={akid}/{scope}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return headers, k, sig, scope, amz_date


def raw(method, path, query=(), body=b"", headers=None, key=KEY, payload="hash", amz_date=None, region=REGION,
        host=None, send_body=None, conn=None, unsigned=()):
    """Signed request with http.client. Returns (status, headers dict, body bytes)."""
    headers = dict(headers or {})
    headers.setdefault("Host", host or f"127.0.0.1:{PEER.port}")
    ph = hashlib.sha256(body).hexdigest() if payload == "hash" else payload
    headers, *_ = sign(method, path, query, headers, ph, key=key, amz_date=amz_date, region=region, unsigned=unsigned)
    target = path + ("?" + "&".join(f"{enc(n)}={enc(v)}" for n, v in query) if query else "")
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", PEER.port, timeout=10)
    data = body if send_body is None else send_body
    c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for n, v in headers.items():
        c.putheader(n, v)
    if method in ("PUT", "POST") or data:
        c.putheader("Content-Length", str(len(data)))
    c.endheaders(data)
    r = c.getresponse()
    out = r.read()
    if own:
        c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, out


def code(body):
    m = re.search(rb"<Code>(.*?)</Code>", body)
    return m.group(1).decode() if m else None


def client(key=KEY, **cfg):
    return PEER.client(key, **cfg)


def client_error(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
    return 200, None


def curl(*args, timeout=20):
    t = time.time()
    p = subprocess.run(["curl", "-s", "-S", *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, time.time() - t


def curl_signed(method, key_path, *extra, body_file=None, payload=None):
    """curl with its own --aws-sigv4 signer (a third independent signer); plain keys only."""
    args = ["--aws-sigv4", f"aws:amz:{REGION}:s3", "--user", f"{KEY[0]}:{KEY[1]}", "-X", method]
    if body_file:
        args += ["-H", "x-amz-content-sha256: " + hashlib.sha256(open(body_file, "rb").read()).hexdigest(), "-T", body_file]
    else:
        args += ["-H", "x-amz-content-sha256: " + (payload or hashlib.sha256(b"").hexdigest())]
    return curl(*args, *extra, f"{PEER.endpoint}/{BUCKET}/{key_path}")


def crc32c_bitwise(data):  # independent of the peer's table version
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return (crc ^ 0xFFFFFFFF).to_bytes(4, "big")


def b64(b):
    return base64.b64encode(b).decode()


# ------------------------------------------------ tests: valid requests must pass
@test
def boto3_put_get_list_delete():
    s = client()
    s.put_object(Bucket=BUCKET, Key="basic/one.txt", Body=b"one", ContentType="text/plain")
    check(s.get_object(Bucket=BUCKET, Key="basic/one.txt")["Body"].read() == b"one")
    check(s.head_object(Bucket=BUCKET, Key="basic/one.txt")["ContentLength"] == 3)
    check([o["Key"] for o in s.list_objects_v2(Bucket=BUCKET, Prefix="basic/")["Contents"]] == ["basic/one.txt"])
    s.copy_object(Bucket=BUCKET, Key="basic/two.txt", CopySource={"Bucket": BUCKET, "Key": "basic/one.txt"})
    s.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": "basic/one.txt"}]})  # Content-MD5 or checksum
    s.delete_object(Bucket=BUCKET, Key="basic/two.txt")
    check(PEER.list_keys(BUCKET, "basic/") == [])
    check(s.list_buckets()["Buckets"][0]["Name"] == BUCKET)
    check(client_error(s.get_object, Bucket=BUCKET, Key="basic/missing") == (404, "NoSuchKey"))
    check(client_error(s.head_object, Bucket=BUCKET, Key="basic/missing")[0] == 404)
    check(client_error(s.list_objects_v2, Bucket="no-such-bucket-x") == (404, "NoSuchBucket"))


@test
def boto3_multipart_and_list_uploads():
    s = client()
    data = os.urandom(6 * 1024 * 1024) + b"tail"
    s.upload_fileobj(io.BytesIO(data), BUCKET, "mp/upload_fileobj.bin",
                     Config=boto3.s3.transfer.TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    check(PEER.get(BUCKET, "mp/upload_fileobj.bin") == data, "multipart round trip")
    check(s.head_object(Bucket=BUCKET, Key="mp/upload_fileobj.bin")["ETag"].endswith('-2"'))
    up = s.create_multipart_upload(Bucket=BUCKET, Key="mp/manual key+x.bin", ChecksumAlgorithm="SHA256")
    part = s.upload_part(Bucket=BUCKET, Key="mp/manual key+x.bin", UploadId=up["UploadId"], PartNumber=1,
                         Body=b"p" * 1000, ChecksumAlgorithm="SHA256")
    ups = PEER.list_multipart_uploads(BUCKET)
    check([u["Key"] for u in ups] == ["mp/manual key+x.bin"], ups)
    parts = s.list_parts(Bucket=BUCKET, Key="mp/manual key+x.bin", UploadId=up["UploadId"])["Parts"]
    check(len(parts) == 1)
    s.complete_multipart_upload(Bucket=BUCKET, Key="mp/manual key+x.bin", UploadId=up["UploadId"],
                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"],
                                                            "ChecksumSHA256": part.get("ChecksumSHA256")}]})
    check(PEER.get(BUCKET, "mp/manual key+x.bin") == b"p" * 1000)
    up = s.create_multipart_upload(Bucket=BUCKET, Key="mp/aborted")
    s.abort_multipart_upload(Bucket=BUCKET, Key="mp/aborted", UploadId=up["UploadId"])
    check(PEER.list_multipart_uploads(BUCKET) == [])


SPECIAL_KEYS = ["sp ace.txt", "plus+sign", "eq=ual", "per%cent", "amp&ersand", "paren(s)", "co:lon", "a@t", "com,ma",
                "til~de", "ünïcödé/日本", "all +=%&():@,~ é/ok", "dir/", "semi;dollar$star*", "q?uestion#hash"]


@test
def special_keys_boto3():
    s = client()
    for k in SPECIAL_KEYS:
        s.put_object(Bucket=BUCKET, Key="sk/" + k, Body=k.encode())
        check(s.get_object(Bucket=BUCKET, Key="sk/" + k)["Body"].read() == k.encode(), k)
    got = PEER.list_keys(BUCKET, "sk/")
    check(sorted(got) == sorted("sk/" + k for k in SPECIAL_KEYS), got)
    got = [o["Key"] for o in s.list_objects_v2(Bucket=BUCKET, Prefix="sk/all +=%&():@,~ ", StartAfter="sk/a")["Contents"]]
    check(got == ["sk/all +=%&():@,~ é/ok"], got)


@test
def special_keys_raw_signer():
    for k in SPECIAL_KEYS:
        path = f"/{BUCKET}/" + enc("rk/" + k, safe="/")
        st, _, body = raw("PUT", path, body=k.encode())
        check(st == 200, f"PUT {k}: {st} {body[:200]}")
        st, _, body = raw("GET", path)
        check(st == 200 and body == k.encode(), f"GET {k}: {st}")
    st, _, body = raw("GET", f"/{BUCKET}", query=[("prefix", "rk/all +=%&():@,~ "), ("list-type", "2"),
                                                  ("encoding-type", "url")])
    check(st == 200 and body.count(b"<Key>") == 1, f"{st} {body[:300]}")


@test
def list_prefix_dir_slash():
    client().put_object(Bucket=BUCKET, Key="dir/a", Body=b"a")
    client().put_object(Bucket=BUCKET, Key="dir/b", Body=b"b")
    client().put_object(Bucket=BUCKET, Key="dirx", Body=b"x")
    got = [o["Key"] for o in client().list_objects_v2(Bucket=BUCKET, Prefix="dir/")["Contents"]]
    check(got == ["dir/a", "dir/b"], got)
    r = client().list_objects_v2(Bucket=BUCKET, Prefix="dir", Delimiter="/")
    check([p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"], r)
    st, _, body = raw("GET", f"/{BUCKET}", query=[("prefix", "dir/"), ("list-type", "2"), ("max-keys", "1")])
    check(st == 200 and b"<IsTruncated>true</IsTruncated>" in body, body[:300])
    st, _, body = raw("GET", f"/{BUCKET}", query=[("uploads", "")])  # ?uploads= as the spec wants
    check(st == 200, st)


@test
def awscli_cp_ls():
    aws = os.path.join(os.path.dirname(peerlib.python_with_moto()), "aws")
    env = {**os.environ, **PEER.env(KEY)}
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in put.txt")
        open(src, "wb").write(b"awscli data\n" * 100)
        p = subprocess.run([aws, "--endpoint-url", PEER.endpoint, "s3", "cp", src, f"s3://{BUCKET}/cli/in put+1.txt"],
                           env=env, capture_output=True, timeout=60)
        check(p.returncode == 0, p.stderr)
        p = subprocess.run([aws, "--endpoint-url", PEER.endpoint, "s3api", "list-objects-v2", "--bucket", BUCKET,
                            "--prefix", "cli/"], env=env, capture_output=True, timeout=60)
        check(p.returncode == 0 and json.loads(p.stdout)["Contents"][0]["Key"] == "cli/in put+1.txt", p.stderr)
    check(PEER.get(BUCKET, "cli/in put+1.txt") == b"awscli data\n" * 100)


@test
def unsigned_payload_and_presigned():
    st, _, _ = raw("PUT", f"/{BUCKET}/unsigned", body=b"u", payload="UNSIGNED-PAYLOAD")
    check(st == 200, st)
    s = client()
    url = s.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "unsigned"}, ExpiresIn=60)
    check(urllib.request.urlopen(url).read() == b"u")
    url = s.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "pre signed+put"}, ExpiresIn=60)
    urllib.request.urlopen(urllib.request.Request(url, data=b"pp", method="PUT")).read()
    check(PEER.get(BUCKET, "pre signed+put") == b"pp")
    bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")[:-1]
    check(_http_status(urllib.request.Request(bad, data=b"xx", method="PUT")) == (403, "SignatureDoesNotMatch"))
    v2 = boto3.client("s3", endpoint_url=PEER.endpoint, region_name=REGION, aws_access_key_id=KEY[0],
                      aws_secret_access_key=KEY[1], config=Config(signature_version="s3"))
    check(_http_status(v2.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "unsigned"}))[0] == 400)


def _http_status(req):
    try:
        urllib.request.urlopen(req).read()
        return 200, None
    except urllib.error.HTTPError as e:
        return e.code, code(e.read())


@test
def virtual_host_style():
    st, _, body = raw("PUT", "/vh/key", body=b"vhost", host=f"{BUCKET}.localhost:{PEER.port}")
    check(st == 200, f"{st} {body[:200]}")
    check(PEER.get(BUCKET, "vh/key") == b"vhost")
    st, _, body = raw("GET", "/", query=[("list-type", "2"), ("prefix", "vh/")], host=f"{BUCKET}.localhost:{PEER.port}")
    check(st == 200 and b"<Key>vh/key</Key>" in body, body[:300])


@test
def checksums_and_md5_valid():
    data = b"checksum me " * 50
    for name, val in [("x-amz-checksum-crc32", b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))),
                      ("x-amz-checksum-crc32c", b64(crc32c_bitwise(data))),
                      ("x-amz-checksum-sha256", b64(hashlib.sha256(data).digest())),
                      ("x-amz-checksum-sha1", b64(hashlib.sha1(data).digest())),
                      ("Content-MD5", b64(hashlib.md5(data).digest()))]:
        st, _, body = raw("PUT", f"/{BUCKET}/ck/{name}", body=data, headers={name: val})
        check(st == 200, f"{name}: {st} {body[:300]}")
    import s3peer  # the peer's table CRCs against the published check values
    check(s3peer.CHECKSUMS["crc32c"](b"123456789").hex() == "e3069283")
    check(s3peer.CHECKSUMS["crc64nvme"](b"123456789").hex() == "ae8b14860a799888")
    for alg in ("CRC32", "CRC32C", "SHA1", "SHA256"):
        try:
            client().put_object(Bucket=BUCKET, Key="ck/boto-" + alg, Body=data, ChecksumAlgorithm=alg)
        except Exception as e:  # CRC32C needs awscrt in botocore
            check(alg == "CRC32C" and "crt" in str(e), f"{alg}: {e}")


@test
def aws_chunked_signed_streaming():
    data = os.urandom(70000)
    path = f"/{BUCKET}/chunked/signed"
    chunks = [data[:65536], data[65536:], b""]
    hdrs = {"Host": f"127.0.0.1:{PEER.port}", "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(data))}
    headers, key, seed, scope, amz_date = sign("PUT", path, [], hdrs, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")

    def body(corrupt=False):
        prev, out = seed, b""
        for c in chunks:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, hashlib.sha256(b"").hexdigest(),
                             hashlib.sha256(c).hexdigest()])
            prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            sig = ("0" * 64) if corrupt and c == chunks[1] else prev
            out += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(c), sig.encode(), c)
        return out
    for corrupt, want in ((False, 200), (True, 403)):
        b = body(corrupt)
        c = http.client.HTTPConnection("127.0.0.1", PEER.port, timeout=10)
        c.request("PUT", path, body=b, headers={**headers, "Content-Length": str(len(b))})
        r = c.getresponse()
        out = r.read()
        check(r.status == want, f"corrupt={corrupt}: {r.status} {out[:300]}")
    check(PEER.get(BUCKET, "chunked/signed") == data)


@test
def aws_chunked_unsigned_trailer_like_boto3_over_tls():
    # botocore sends STREAMING-UNSIGNED-PAYLOAD-TRAILER + Transfer-Encoding: chunked only over https;
    # make it believe the endpoint is https so the real botocore encoder runs over plain http.
    import botocore.httpchecksum as hc
    real = hc.urlparse
    hc.urlparse = lambda u: real(u.replace("http://", "https://", 1))
    try:
        s = boto3.client("s3", endpoint_url=PEER.endpoint, region_name=REGION, aws_access_key_id=KEY[0],
                         aws_secret_access_key=KEY[1], config=Config(retries={"total_max_attempts": 1}))
        PEER.reset_stats()
        data = os.urandom(100000)
        s.put_object(Bucket=BUCKET, Key="chunked/trailer", Body=io.BytesIO(data))
        check(PEER.get(BUCKET, "chunked/trailer") == data)
    finally:
        hc.urlparse = real
    # hand-made: a wrong trailer checksum must be refused
    data = b"trailer body"
    hdrs = {"Host": f"127.0.0.1:{PEER.port}", "Content-Encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32",
            "x-amz-decoded-content-length": str(len(data))}
    headers, *_ = sign("PUT", f"/{BUCKET}/chunked/bad-trailer", [], hdrs, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    for crc, want in ((zlib.crc32(data), 200), (zlib.crc32(data) ^ 1, 400)):
        b = b"%x\r\n%s\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % (len(data), data, b64(crc.to_bytes(4, "big")).encode())
        c = http.client.HTTPConnection("127.0.0.1", PEER.port, timeout=10)
        c.request("PUT", f"/{BUCKET}/chunked/bad-trailer", body=b, headers={**headers, "Content-Length": str(len(b))})
        r = c.getresponse()
        out = r.read()
        check(r.status == want and (want == 200 or code(out) == "BadDigest"), f"{r.status} {out[:200]}")


@test
def signer_matches_botocore():
    """Cross-check (test only): the peer's canonical query/signing key give botocore's signature."""
    import s3peer
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    # botocore keeps a query already in the URL as it is, so give it one encoded per the spec
    url = "http://127.0.0.1:1/b/k%20%2B%3D%28%29~?prefix=a%2Fb%20c%2B%C3%A9&list-type=2&uploads=&x=~%2A"
    req = AWSRequest("GET", url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(KEY[0], KEY[1]), "s3", REGION).add_auth(req)
    r = s3peer.Request("GET", url.split(":1", 1)[1], "HTTP/1.1", [("Host", "127.0.0.1:1")] + list(req.headers.items()))
    s3peer.Verifier({KEY[0]: (KEY[1], None)}, REGION, 900).check_head(r)  # raises on mismatch


@test
def form_content_type_body_survives():
    """moto's Flask eats form-urlencoded bodies; the peer forwards them as octet-stream (and warns)."""
    rc, out, _ = curl_signed("PUT", "form/body", "-w", "\n%{http_code}", "--data-binary", "a=1&b=2",
                             payload=hashlib.sha256(b"a=1&b=2").hexdigest())
    check(out.endswith(b"\n200"), out)
    check(PEER.get(BUCKET, "form/body") == b"a=1&b=2")
    check(any("application/octet-stream" in w for w in PEER.stats()["warnings"]))


@test
def path_signed_as_sent_accepted_with_warning():
    st, _, body = raw("PUT", f"/{BUCKET}/raw:colon@at", body=b"r")  # not UriEncode'd, but signed as sent
    check(st == 200, (st, body))
    check(PEER.get(BUCKET, "raw:colon@at") == b"r")
    check(any("raw:colon@at" in w for w in PEER.stats()["warnings"]))
    st, _, body = raw("GET", f"/{BUCKET}/raw%3acolon%40at")  # lower-case hex, signed as sent: S3 does not normalise
    check(st == 200, (st, body))


@test
def throughput_keep_alive():
    c = http.client.HTTPConnection("127.0.0.1", PEER.port, timeout=10)
    n, t = 200, time.time()
    for i in range(n):
        st, _, _ = raw("PUT", f"/{BUCKET}/tp/{i}", body=b"x" * 1024, conn=c)
        check(st == 200)
    dt = time.time() - t
    c.close()
    print(f"     {n} x 1 KiB PUT over one connection: {dt:.2f}s = {n / dt:.0f} req/s")


@test
def aws_published_s3_examples():
    """The worked examples of the S3 API Reference (tests/data/sigv4/s3): accepted, same canonical request."""
    import calendar
    import s3peer
    base = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sigv4", "s3")
    cases = sorted(os.listdir(base)) if os.path.isdir(base) else []
    check(len(cases) >= 5, f"no vectors in {base}")
    for case in cases:
        d = os.path.join(base, case)
        ctx = json.load(open(os.path.join(d, "context.json")))
        now = calendar.timegm(time.strptime(ctx["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        cr = ctx["credentials"]
        v = s3peer.Verifier({cr["access_key_id"]: (cr["secret_access_key"], cr.get("token"))}, ctx["region"], 900)
        for mode in ctx["signature_types"]:
            raw_req = open(os.path.join(d, f"{mode}-signed-request.txt"), "rb").read().decode("latin-1")
            head, _, body = raw_req.partition("\n\n")
            lines = head.split("\n")
            m, target, ver = lines[0].split(" ")
            req = s3peer.Request(m, target, ver, [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:]])
            req.body = body.encode("latin-1")
            actx = v.check_head(req, now=now)
            check(actx["creq"] == open(os.path.join(d, f"{mode}-canonical-request.txt")).read(), f"{case}: creq")
            v.check_body(req, actx)
            for bad in (req.target.replace("/", "/x", 1), req.target + ("&x=1" if "?" in req.target else "?x=1")):
                try:
                    v.check_head(s3peer.Request(m, bad, ver, req.headers), now=now)
                    raise AssertionError(f"{case}: tampered {bad} passed")
                except s3peer.S3Error as e:
                    check(e.code == "SignatureDoesNotMatch", (case, e.code))
            try:
                v.check_head(req)  # today: far outside the skew / expiry window
                raise AssertionError(f"{case}: a 2013 request passed today")
            except s3peer.S3Error as e:
                check(e.code in ("RequestTimeTooSkewed", "AccessDenied"), (case, e.code))


@test
def canonicalisation_matches_aws_suite():
    """Query and header canonicalisation against the 38 generic AWS SigV4 suite cases (tests/data/sigv4/*)."""
    import glob
    import s3peer
    base = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "sigv4")
    cases = sorted(glob.glob(os.path.join(base, "*", "context.json")))
    check(len(cases) >= 30, f"no suite in {base}")
    for c in cases:
        d = os.path.dirname(c)
        creq = open(os.path.join(d, "header-canonical-request.txt"), "rb").read().decode("latin-1").split("\n")
        head = open(os.path.join(d, "header-signed-request.txt"), "rb").read().decode("latin-1").partition("\n\n")[0]
        lines = head.split("\n")
        target = lines[0].split(" ")[1]
        check(s3peer.canonical_query(target.partition("?")[2]) == creq[2], (d, "query"))
        headers = []
        for ln in lines[1:]:  # the suite has obs-fold continuation lines: join them with a space
            if ln[:1] in (" ", "\t"):
                headers[-1] = (headers[-1][0], headers[-1][1] + " " + ln.strip())
            else:
                n, _, v = ln.partition(":")
                headers.append((n, v.strip()))
        signed = creq[-2].split(";")
        check(s3peer.canonical_headers(headers, signed) == "".join(ln + "\n" for ln in creq[3:3 + len(signed)]), (d, "headers"))


# ------------------------------------------------ tests: invalid requests must fail
@test
def wrong_secret_commits_nothing():
    bad = (KEY[0], "not-the-secret", None)
    check(client_error(client(bad).put_object, Bucket=BUCKET, Key="canary", Body=b"x") == (403, "SignatureDoesNotMatch"))
    check(client_error(client(bad).list_objects_v2, Bucket=BUCKET) == (403, "SignatureDoesNotMatch"))
    check(client_error(client(bad).create_multipart_upload, Bucket=BUCKET, Key="canary-mp") == (403, "SignatureDoesNotMatch"))
    st, _, body = raw("PUT", f"/{BUCKET}/canary", body=b"x", key=bad)
    check((st, code(body)) == (403, "SignatureDoesNotMatch") and b"<CanonicalRequest>" in body)
    check(not PEER.exists(BUCKET, "canary") and PEER.list_multipart_uploads(BUCKET) == [], "wrong secret committed")


@test
def unknown_access_key():
    check(client_error(client(("AKIDUNKNOWN", "x", None)).list_objects_v2, Bucket=BUCKET) == (403, "InvalidAccessKeyId"))


@test
def tampered_signature_parts():
    path = f"/{BUCKET}/tamper"
    headers, *_ = sign("PUT", path, [], {"Host": f"127.0.0.1:{PEER.port}"}, hashlib.sha256(b"body").hexdigest())
    for name, mod in [("path", lambda h: (path + "x", h)), ("host", lambda h: (path, {**h, "Host": "127.0.0.1:1"})),
                      ("query", lambda h: (path + "?acl=", h))]:
        p, h = mod(dict(headers))
        c = http.client.HTTPConnection("127.0.0.1", PEER.port, timeout=10)
        c.request("PUT", p, body=b"body", headers=h)
        r = c.getresponse()
        check((r.status, code(r.read())) == (403, "SignatureDoesNotMatch"), name)
    # unsigned x-amz-meta header, wrong region, missing content sha
    h = dict(headers, **{"x-amz-meta-extra": "1"})
    c = http.client.HTTPConnection("127.0.0.1", PEER.port, timeout=10)
    c.request("PUT", path, body=b"body", headers=h)
    r = c.getresponse()
    check((r.status, code(r.read())) == (403, "AccessDenied"), "unsigned x-amz-meta")
    st, _, body = raw("PUT", path, body=b"x", headers={"x-amz-meta-a": "1"}, unsigned=("x-amz-meta-a",))
    check((st, code(body)) == (403, "AccessDenied") and b"<HeadersNotSigned>x-amz-meta-a<" in body, (st, body))
    st, _, body = raw("PUT", path, body=b"x", headers={"x-amz-meta-a": "1"}, unsigned=("x-amz-security-token",),
                      key=TKEY)
    check((st, code(body)) == (403, "AccessDenied"), (st, body))
    st, _, body = raw("PUT", f"/{BUCKET}/sha-unsigned", body=b"s", unsigned=("x-amz-content-sha256",))
    check(st == 200, ("unsigned x-amz-content-sha256 is tolerated by S3", st, body))
    st, _, body = raw("PUT", f"/{BUCKET}/sha-unsigned2", body=b"s", send_body=b"t", unsigned=("x-amz-content-sha256",))
    check((st, code(body)) == (400, "XAmzContentSHA256Mismatch"), (st, body))
    st, _, body = raw("GET", path, region="eu-west-1")
    check((st, code(body)) == (400, "AuthorizationHeaderMalformed"), (st, body))
    st, _, body = raw("GET", path, payload=None)
    check((st, code(body)) == (400, "InvalidRequest"), (st, body))
    check(not PEER.exists(BUCKET, "tamper"))


@test
def tampered_body_sha256():
    st, _, body = raw("PUT", f"/{BUCKET}/tampered", body=b"original", send_body=b"tampered")
    check((st, code(body)) == (400, "XAmzContentSHA256Mismatch"), (st, body))
    st, _, body = raw("PUT", f"/{BUCKET}/tampered", body=b"original", payload="f" * 64)
    check((st, code(body)) == (400, "XAmzContentSHA256Mismatch"), (st, body))
    check(not PEER.exists(BUCKET, "tampered"))


@test
def bad_content_md5_and_checksums():
    data = b"digest me"
    st, _, body = raw("PUT", f"/{BUCKET}/md5", body=data, headers={"Content-MD5": b64(hashlib.md5(b"other").digest())})
    check((st, code(body)) == (400, "BadDigest"), (st, body))
    st, _, body = raw("PUT", f"/{BUCKET}/md5", body=data, headers={"Content-MD5": "junk!"})
    check((st, code(body)) == (400, "InvalidDigest"), (st, body))
    st, _, body = raw("PUT", f"/{BUCKET}/md5", body=data, headers={"x-amz-checksum-crc32": b64(b"\0\0\0\0")})
    check((st, code(body)) == (400, "BadDigest"), (st, body))
    st, _, body = raw("PUT", f"/{BUCKET}/md5", body=data, headers={"x-amz-checksum-sha256": b64(b"\0" * 32)})
    check((st, code(body)) == (400, "BadDigest"), (st, body))
    check(not PEER.exists(BUCKET, "md5"))


@test
def clock_skew():
    t = time.time()
    fmt = lambda s: time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t + s))  # noqa: E731
    for off, want in ((3600, 403), (-3600, 403), (600, 200), (-600, 200)):
        st, _, body = raw("GET", f"/{BUCKET}", query=[("list-type", "2")], amz_date=fmt(off))
        check(st == want and (want == 200 or code(body) == "RequestTimeTooSkewed"), f"{off}: {st} {body[:200]}")


@test
def session_token():
    s = client(TKEY)
    s.put_object(Bucket=BUCKET, Key="tok/ok", Body=b"t")
    check(PEER.get(BUCKET, "tok/ok") == b"t")
    check(client_error(client((TKEY[0], TKEY[1], None)).list_objects_v2, Bucket=BUCKET)[1] == "InvalidToken")
    check(client_error(client((TKEY[0], TKEY[1], "wrong")).list_objects_v2, Bucket=BUCKET)[1] == "InvalidToken")
    check(client_error(client((KEY[0], KEY[1], "unexpected")).list_objects_v2, Bucket=BUCKET)[1] == "InvalidToken")


@test
def chunked_upload_refused():
    rc, out, _ = curl_signed("PUT", "chunked-te", "-H", "Transfer-Encoding: chunked", "-w", "\n%{http_code}",
                             "--data-binary", "@/etc/hostname")
    check(out.endswith(b"\n411") and b"MissingContentLength" in out, out)
    with socket.create_connection(("127.0.0.1", PEER.port)) as s:  # plain chunked, no curl
        hdrs, *_ = sign("PUT", f"/{BUCKET}/te", [], {"Host": f"127.0.0.1:{PEER.port}"}, "UNSIGNED-PAYLOAD")
        s.sendall(f"PUT /{BUCKET}/te HTTP/1.1\r\n".encode() + b"".join(f"{k}: {v}\r\n".encode() for k, v in hdrs.items())
                  + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        check(s.recv(100).startswith(b"HTTP/1.1 411"))
    check(not PEER.exists(BUCKET, "te") and not PEER.exists(BUCKET, "chunked-te"))


@test
def expect_100_bad_signature_answers_before_body():
    with tempfile.NamedTemporaryFile() as f:
        f.write(os.urandom(2 << 20))
        f.flush()
        rc, out, dt = curl("--aws-sigv4", f"aws:amz:{REGION}:s3", "--user", f"{KEY[0]}:wrong", "-H",
                           "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-H", "Expect: 100-continue", "-T", f.name,
                           "-w", "\n%{http_code}", f"{PEER.endpoint}/{BUCKET}/expect")
    check(out.endswith(b"\n403") and b"SignatureDoesNotMatch" in out and dt < 0.9, (rc, out[-200:], dt))


# ------------------------------------------------ faults (observed with curl)
def faults(rules):
    PEER.set_faults(rules)


@test
def fault_slowdown_twice_then_ok():
    PEER.put(BUCKET, "f/small", b"small")
    faults([{"method": "GET", "path": "^/%s/f/small$" % BUCKET, "times": 2, "action": "slowdown"}])
    seen = []
    for _ in range(3):
        rc, out, _ = curl_signed("GET", "f/small", "-w", "\n%{http_code}")
        seen.append(out.rsplit(b"\n", 1)[1].decode() + (":" + code(out) if code(out) else ""))
    check(seen == ["503:SlowDown", "503:SlowDown", "200"], seen)
    f = PEER.faults()
    check(f[0]["times"] == 0 and f[0]["hits"] == 2, f)


@test
def fault_status_500_and_502():
    faults([{"method": "GET", "path": "f/small", "times": 1, "action": {"status": 500}},
            {"path": "f/small", "times": 1, "action": "status:502"}])
    rc, out, _ = curl_signed("GET", "f/small", "-w", "\n%{http_code}")
    check(out.endswith(b"\n500") and code(out) == "InternalError", out)
    rc, out, _ = curl_signed("GET", "f/small", "-w", "\n%{http_code}")
    check(out.endswith(b"\n502"), out)
    rc, out, _ = curl_signed("GET", "f/small", "-w", "\n%{http_code}")
    check(out.endswith(b"\n200"), out)


@test
def fault_delay_and_request_timeout():
    faults([{"method": "GET", "path": "f/small", "times": 1, "action": {"delay_ms": 700}},
            {"method": "PUT", "path": "f/rt", "times": 1, "action": "request_timeout"}])
    rc, out, dt = curl_signed("GET", "f/small", "-w", "\n%{http_code}")
    check(out.endswith(b"\n200") and 0.7 <= dt < 3, (out, dt))
    rc, out, dt = curl_signed("PUT", "f/rt", "-w", "\n%{http_code}", body_file="/etc/hostname")
    check(out.endswith(b"\n400") and code(out) == "RequestTimeout", out)
    check(not PEER.exists(BUCKET, "f/rt"))


@test
def in_flight_lists_a_held_request_until_it_is_answered():
    """/_peer/in-flight: what tests wait on instead of sleeping."""
    import threading
    PEER.put(BUCKET, "f/held", b"held")
    faults([{"method": "GET", "path": "f/held", "times": 1, "action": {"delay_ms": 1500}}])
    got = []
    t = threading.Thread(target=lambda: got.append(curl_signed("GET", "f/held", "-w", "\n%{http_code}")))
    t.start()
    deadline = time.time() + 30
    while not any(r["method"] == "GET" and "f/held" in r["target"] for r in PEER.in_flight()):
        check(time.time() < deadline, "the held GET never showed in flight")
        time.sleep(0.01)
    t.join()
    check(got and got[0][1].endswith(b"\n200"), got)
    check(PEER.in_flight() == [], PEER.in_flight())


def _big_object():
    if not PEER.exists(BUCKET, "f/big"):
        PEER.put(BUCKET, "f/big", os.urandom(1 << 20))
    return PEER.get(BUCKET, "f/big")


@test
def fault_reset_mid_get():
    _big_object()
    faults([{"method": "GET", "path": "f/big", "times": 1, "action": {"reset_response_after": 300000}}])
    with tempfile.NamedTemporaryFile() as f:
        rc, out, _ = curl_signed("GET", "f/big", "-o", f.name)
        check(rc == 56 and os.path.getsize(f.name) < (1 << 20), (rc, os.path.getsize(f.name), out))


@test
def fault_drop_response_of_a_put():
    """The PUT is stored, its whole answer lost: curl sees the connection
    reset before any status (exit 52 or 56), the object is there."""
    faults([{"method": "PUT", "path": "f/dropped", "times": 1, "action": "drop_response"}])
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"stored anyway")
        f.flush()
        rc, out, _ = curl_signed("PUT", "f/dropped", body_file=f.name)
    check(rc in (52, 56), (rc, out))
    check(PEER.get(BUCKET, "f/dropped") == b"stored anyway")


@test
def fault_truncate_mid_get():
    data = _big_object()
    faults([{"method": "GET", "path": "f/big", "times": 1, "action": {"truncate_response_after": 300000}}])
    with tempfile.NamedTemporaryFile() as f:
        rc, out, _ = curl_signed("GET", "f/big", "-o", f.name)
        got = open(f.name, "rb").read()
        check(rc == 18 and got == data[:300000], (rc, len(got)))


@test
def fault_stall_mid_get():
    _big_object()
    faults([{"method": "GET", "path": "f/big", "times": 1, "action": {"stall_response_after": 1000}}])
    rc, out, dt = curl_signed("GET", "f/big", "-o", "/dev/null", "--max-time", "1")
    check(rc == 28 and 0.9 < dt < 3, (rc, dt))


@test
def fault_reset_mid_upload():
    faults([{"method": "PUT", "path": "f/upload", "times": 1, "action": {"reset_request_after": 200000}}])
    with tempfile.NamedTemporaryFile() as f:
        f.write(os.urandom(3 << 20))
        f.flush()
        rc, out, _ = curl_signed("PUT", "f/upload", body_file=f.name)
        check(rc in (55, 56), (rc, out))
        check(not PEER.exists(BUCKET, "f/upload"))
        rc, out, _ = curl_signed("PUT", "f/upload", "-w", "\n%{http_code}", body_file=f.name)  # times:1 used up
        check(out.endswith(b"\n200"), out)


@test
def faults_file_reloaded():
    with open(FAULTS_FILE + ".tmp", "w") as f:
        json.dump([{"method": "HEAD", "path": "f/small", "times": 1, "action": "status:503"}], f)
    os.replace(FAULTS_FILE + ".tmp", FAULTS_FILE)
    check(client_error(client().head_object, Bucket=BUCKET, Key="f/small")[0] == 503)
    check(client_error(client().head_object, Bucket=BUCKET, Key="f/small")[0] == 200)
    os.unlink(FAULTS_FILE)


# ------------------------------------------------ connections and stats
@test
def keep_alive_counted_once():
    PEER.reset_stats()
    c = http.client.HTTPConnection("127.0.0.1", PEER.port, timeout=10)
    st1, h1, _ = raw("GET", f"/{BUCKET}/f/small", conn=c)
    st2, h2, _ = raw("GET", f"/{BUCKET}", query=[("list-type", "2")], conn=c)
    c.close()
    s = PEER.stats()
    check((st1, st2) == (200, 200) and "close" not in h1.get("connection", ""), (st1, st2, h1))
    check(s["connections"] == 1 and s["requests"] == 2, s)
    PEER.reset_stats()  # curl with two URLs reuses its connection too
    rc, out, _ = curl("--aws-sigv4", f"aws:amz:{REGION}:s3", "--user", f"{KEY[0]}:{KEY[1]}", "-H",
                      "x-amz-content-sha256: " + hashlib.sha256(b"").hexdigest(), "-o", "/dev/null", "-o", "/dev/null",
                      f"{PEER.endpoint}/{BUCKET}/f/small", f"{PEER.endpoint}/{BUCKET}/dir/a")
    s = PEER.stats()
    check(rc == 0 and s["connections"] == 1 and s["requests"] == 2, s)


@test
def request_records_and_close_after_response():
    PEER.reset_stats()
    faults([{"method": "GET", "path": "f/small", "times": 1, "action": "close_after_response"}])
    rc, out, _ = curl("--aws-sigv4", f"aws:amz:{REGION}:s3", "--user", f"{KEY[0]}:{KEY[1]}", "-H",
                      "x-amz-content-sha256: " + hashlib.sha256(b"").hexdigest(), "-o", "/dev/null", "-o", "/dev/null",
                      f"{PEER.endpoint}/{BUCKET}/f/small", f"{PEER.endpoint}/{BUCKET}/missing-key")
    s, recs = PEER.stats(), PEER.requests()
    check(rc == 0 and s["connections"] == 2 and s["requests"] == 2, (rc, s))  # curl had to reconnect
    check([(r["conn"], r["method"], r["status"], r["code"], r.get("fault")) for r in recs] ==
          [(1, "GET", 200, None, "close_after_response"), (2, "GET", 404, "NoSuchKey", None)], recs)


@test
def moto_api_without_auth_and_pid_cleanup():
    with peerlib.start(keys=[KEY]) as p2:
        c = http.client.HTTPConnection("127.0.0.1", p2.port, timeout=10)
        c.request("POST", "/moto-api/reset", body=b"", headers={"Content-Type": "text/plain"})
        check(c.getresponse().status == 200)
        pids = (p2.pid, p2.moto_pid)
        os.kill(p2.pid, signal.SIGKILL)  # the peer dies hard: moto must follow (PR_SET_PDEATHSIG)
        deadline = time.time() + 5
        while time.time() < deadline and peerlib._alive(p2.moto_pid):
            time.sleep(0.05)
        check(not peerlib._alive(pids[1]), "moto survived its peer")
    with tempfile.NamedTemporaryFile("w", suffix=".keys") as kf:
        kf.write("# AKID:SECRET[:TOKEN]\nAKIDFROMFILE:file-secret\n")
        kf.flush()
        with peerlib.start(keys=[KEY], extra_args=["--keys", kf.name]) as p3:
            pids = (p3.pid, p3.moto_pid)
            p3.create_bucket("keys-file")
            check(client_error(p3.client(("AKIDFROMFILE", "file-secret", None)).list_objects_v2, Bucket="keys-file")
                  == (200, None), "key from --keys refused")
    check(not peerlib._alive(pids[0]) and not peerlib._alive(pids[1]), "stop() left a process")


# ------------------------------------------------ main
def main():
    global PEER, FAULTS_FILE
    tmp = tempfile.mkdtemp(prefix="peertest.")
    FAULTS_FILE = os.path.join(tmp, "faults.json")
    log = os.path.join(tmp, "peer.log")
    t0 = time.time()
    PEER = peerlib.start(keys=[KEY, TKEY], log=log, faults_file=FAULTS_FILE)
    startup = time.time() - t0
    print(f"peer started in {startup:.2f}s at {PEER.endpoint} (pid {PEER.pid}, moto pid {PEER.moto_pid})")
    passed = failed = 0
    try:
        PEER.create_bucket(BUCKET)
        for fn in TESTS:
            if ONLY and ONLY not in fn.__name__:
                continue
            PEER.clear_faults()
            t = time.time()
            try:
                fn()
                passed += 1
                print(f"PASS {fn.__name__} ({time.time() - t:.2f}s)")
            except Exception as e:  # noqa: BLE001
                failed += 1
                print(f"FAIL {fn.__name__} ({time.time() - t:.2f}s): {type(e).__name__}: {str(e)[:600]}")
                if VERBOSE:
                    import traceback
                    traceback.print_exc()
        warnings = PEER.stats()["warnings"]
        if warnings:
            print("peer warnings:", warnings)
    finally:
        PEER.stop()
        if failed and VERBOSE:
            print(open(log).read()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"total {time.time() - t0:.2f}s (peer start {startup:.2f}s)")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
