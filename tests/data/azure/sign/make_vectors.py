#!/usr/bin/env python3
"""Write vectors.json: Shared Key test vectors for tests/check_azsign.c.

Computed here with hmac/hashlib/base64 from the string-to-sign rules of
Microsoft's "Authorize with Shared Key" (Blob service, version 2015-02-21
and later): VERB, the eleven standard headers (Content-Length empty when
0), the x-ms-* headers lowercased and sorted ("name:value", values
trimmed), then "/" account + the path as sent + "\\nname:value" per query
parameter (names lowercased and sorted, values percent-decoded, values of
a repeated name sorted and joined with ',').  Nothing of evshare's C is
used.  The first two cases are the ones of /work/shared/AZURE-PEER.md,
replayed live against Azurite (test_az.py replays every case again).

    python3 tests/data/azure/sign/make_vectors.py > tests/data/azure/sign/vectors.json
"""
import base64
import calendar
import email.utils
import hashlib
import hmac
import json
import sys
import urllib.parse

DEV_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
           "K1SZFPTOtr/KBHBeksoGMGw==")
OTHER_KEY = base64.b64encode(hashlib.sha512(b"evshare azsign vector key").digest()).decode()
STD = ["content-encoding", "content-language", "content-length", "content-md5", "content-type",
       "date", "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range"]


def sts_of(method, account, path, query, headers, length):
    h = {k.lower(): v for k, v in headers}
    out = [method]
    for name in STD:
        out.append((str(length) if length else "") if name == "content-length" else h.get(name, ""))
    for name in sorted(k for k in h if k.startswith("x-ms-")):
        out.append("%s:%s" % (name, h[name].strip(" \t")))
    params = {}
    for piece in query.split("&") if query else []:
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if not name:
            continue
        name = urllib.parse.unquote(name).lower()
        params.setdefault(name, []).append(urllib.parse.unquote(value))
    res = "/" + account + path
    for k in sorted(params):
        res += "\n%s:%s" % (k, ",".join(sorted(params[k])))
    out.append(res)
    return "\n".join(out)


def case(name, method, account, key, path, query, headers, length, date):
    t = calendar.timegm(email.utils.parsedate_tz(date)[:9])
    hs = headers + [("x-ms-date", date)]
    sts = sts_of(method, account, path, query, hs, length)
    sig = base64.b64encode(hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest())
    return {"name": name, "method": method, "account": account, "key": key, "path": path,
            "query": query, "headers": [list(h) for h in headers], "content_length": length,
            "time": t, "x_ms_date": date, "string_to_sign": sts,
            "authorization": "SharedKey %s:%s" % (account, sig.decode())}


D = "Fri, 27 Nov 2026 00:00:00 GMT"
V = ("x-ms-version", "2021-08-06")
cases = [
    case("azurite-put-blob", "PUT", "devstoreaccount1", DEV_KEY,
         "/devstoreaccount1/cont/dir/a%20b.txt", "",
         [("Content-Type", "text/plain"), ("x-ms-blob-type", "BlockBlob"), V], 11, D),
    case("azurite-list-blobs", "GET", "devstoreaccount1", DEV_KEY, "/devstoreaccount1/cont",
         "restype=container&comp=list&prefix=dir%2F&maxresults=2", [V], 0, D),
    case("get-if-match-range", "GET", "evsharetest", OTHER_KEY,
         "/events/TN-a/2026/11/27/f%2Bg%20%C3%A9.ndjson.gz", "",
         [("Host", "evsharetest.blob.core.windows.net"), V,
          ("If-Match", "\"0x8DCB1F2E3A4B5C6\""), ("Range", "bytes=1048576-")], 0,
         "Sat, 28 Nov 2026 13:05:09 GMT"),
    case("put-block", "PUT", "evsharetest", OTHER_KEY, "/out/TN-x/a.ndjson.gz",
         "comp=block&blockid=ZXZzaGFyZS0wMDAwMDAwMS0wMDAwMDAw",
         [("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="), V], 5242880,
         "Tue, 29 Feb 2028 23:59:59 GMT"),
    case("put-block-list", "PUT", "evsharetest", OTHER_KEY, "/out/TN-x/a.ndjson.gz",
         "comp=blocklist",
         [("Content-Type", "application/xml"), ("Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="),
          ("x-ms-blob-content-type", "application/octet-stream"),
          ("x-ms-blob-content-md5", "  CY9rzUYh03PK3k6DJie09g==\t"), V], 187,
         "Thu, 01 Jan 1970 00:00:00 GMT"),
    case("put-empty-body", "PUT", "devstoreaccount1", DEV_KEY,
         "/devstoreaccount1/cont/empty", "",
         [("x-ms-blob-type", "BlockBlob"), ("Content-Type", "application/octet-stream"), V],
         0, D),
    case("query-repeated-upper-and-bare", "GET", "evsharetest", OTHER_KEY, "/cont",
         "Comp=list&include=snapshots&&restype=container&include=metadata&timeout&"
         "prefix=a%2Bb%20c%2F&marker=2%213%21MDAwMDA0ITIwMjYtMTEtMjc-",
         [V, ("x-ms-client-request-id", "4f1c")], 0, D),
    case("all-standard-headers", "PUT", "evsharetest", OTHER_KEY, "/cont/%7E%2A",
         "", [("Content-Encoding", "gzip"), ("Content-Language", "en"),
              ("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ=="), ("Content-Type", "application/x-ndjson"),
              ("If-Modified-Since", "Thu, 26 Nov 2026 00:00:00 GMT"), ("If-Match", "*"),
              ("If-None-Match", "\"x\""), ("If-Unmodified-Since", "Sat, 28 Nov 2026 00:00:00 GMT"),
              ("Range", "bytes=0-9"), V, ("X-MS-Meta-Source", "evshare")], 10, D),
]
json.dump({"cases": cases}, sys.stdout, indent=1, ensure_ascii=True)
sys.stdout.write("\n")
