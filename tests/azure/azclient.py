"""A minimal Azure Blob Storage client for evshare's tests (standard
library only): Shared Key signing written from Microsoft's "Authorize with
Shared Key" rules, account SAS tokens from "Create an account SAS", and
the few Blob REST calls the tests need (containers, Put Blob, Get Blob,
List Blobs with NextMarker, Get Block List, Delete Blob).

It is deliberately independent of the C signer (src/store/az/azsign.c): the tests
upload fixtures and read outputs with it, and tests/check_azsign.c's
vectors were computed with sign_string()/string_to_sign() below.

    c = Client("http://127.0.0.1:PORT/devstoreaccount1", "devstoreaccount1", key=KEY_B64)
    c.create_container("src")
    c.put_blob("src", "a/b.ndjson.gz", data)
    c.list_blobs("src", prefix="a/")   # [{"name", "size", "etag", "last_modified"}]
"""
import base64
import datetime
import email.utils
import hashlib
import hmac
import http.client
import threading
import urllib.parse
import xml.etree.ElementTree as ET

API_VERSION = "2021-08-06"
# The emulator account published in Microsoft's Azurite documentation.
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = ("Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
           "K1SZFPTOtr/KBHBeksoGMGw==")

STANDARD_HEADERS = ["content-encoding", "content-language", "content-length", "content-md5",
                    "content-type", "date", "if-modified-since", "if-match", "if-none-match",
                    "if-unmodified-since", "range"]


class AzureError(Exception):
    def __init__(self, status, code, body):
        Exception.__init__(self, "%d %s" % (status, code))
        self.status, self.code, self.body = status, code, body


def quote_path(s):
    """Percent-encode a blob name for the URL path ('/' kept)."""
    return urllib.parse.quote(s, safe="/-_.~")


def quote_value(s):
    return urllib.parse.quote(s, safe="-_.~")


def string_to_sign(method, account, path, query, headers, content_length):
    """The Shared Key string-to-sign (2009-09-19 and later).

    path: the URL path as sent (percent-encoded); query: [(name, value)]
    decoded; headers: {name: value}; content_length: int (0 signs as "").
    """
    h = {k.lower(): v for k, v in headers.items()}
    lines = [method]
    for name in STANDARD_HEADERS:
        if name == "content-length":
            lines.append(str(content_length) if content_length else "")
        else:
            lines.append(h.get(name, ""))
    for name in sorted(k for k in h if k.startswith("x-ms-")):
        lines.append("%s:%s" % (name, h[name].strip()))
    res = "/" + account + path
    params = {}
    for k, v in query:
        params.setdefault(k.lower(), []).append(v)
    for k in sorted(params):
        res += "\n%s:%s" % (k, ",".join(sorted(params[k])))
    lines.append(res)
    return "\n".join(lines)


def sign_string(key_b64, sts):
    mac = hmac.new(base64.b64decode(key_b64), sts.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def rfc1123(t=None):
    return email.utils.formatdate(t, usegmt=True)


def account_sas(account, key_b64, permissions="rwdlac", expiry="2099-01-01T00:00:00Z",
                start="", services="b", resource_types="sco", protocol="https,http",
                version=API_VERSION):
    """An account SAS token (without '?'), version 2020-12-06 and later."""
    sts = "\n".join([account, permissions, services, resource_types, start, expiry, "",
                     protocol, version, "", ""])
    sig = sign_string(key_b64, sts)
    q = [("sv", version), ("ss", services), ("srt", resource_types), ("sp", permissions),
         ("se", expiry)]
    if start:
        q.append(("st", start))
    q += [("spr", protocol), ("sig", sig)]
    return "&".join("%s=%s" % (k, quote_value(v)) for k, v in q)


class Client:
    """Blob calls on one endpoint (http://host:port/account or https://...)."""

    def __init__(self, endpoint, account, key=None, sas=None, timeout=60):
        u = urllib.parse.urlsplit(endpoint)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.base = u.path.rstrip("/")
        self.account, self.key, self.sas, self.timeout = account, key, sas, timeout
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            c = cls(self.host, self.port, timeout=self.timeout)
            self.local.conn = c
        return c

    def request(self, method, container, blob=None, query=(), headers=None, body=b"",
                ok=(200, 201, 202, 206)):
        path = self.base + "/" + container
        if blob is not None:
            path += "/" + quote_path(blob)
        query = list(query)
        qs = "&".join("%s=%s" % (quote_value(k), quote_value(v)) for k, v in query)
        h = {"x-ms-date": rfc1123(), "x-ms-version": API_VERSION}
        h.update(headers or {})
        if body:
            h["Content-Length"] = str(len(body))
        if self.key is not None:
            sts = string_to_sign(method, self.account, path, query, h, len(body))
            h["Authorization"] = "SharedKey %s:%s" % (self.account, sign_string(self.key, sts))
        elif self.sas:
            qs = qs + ("&" if qs else "") + self.sas
        target = path + ("?" + qs if qs else "")
        for attempt in range(2):
            c = self._conn()
            try:
                c.request(method, target, body=body or None, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                c.close()
                self.local.conn = None
                if attempt:
                    raise
        if r.status not in ok:
            code = r.getheader("x-ms-error-code") or ""
            raise AzureError(r.status, code, data)
        return r, data

    # -- containers
    def create_container(self, name):
        try:
            self.request("PUT", name, query=[("restype", "container")])
        except AzureError as e:
            if e.code != "ContainerAlreadyExists":
                raise

    def delete_container(self, name):
        self.request("DELETE", name, query=[("restype", "container")])

    # -- blobs
    def put_blob(self, container, name, data, content_type="application/octet-stream"):
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        r, _ = self.request("PUT", container, name, body=data,
                            headers={"x-ms-blob-type": "BlockBlob", "Content-MD5": md5,
                                     "Content-Type": content_type})
        return r.getheader("ETag")

    def get_blob(self, container, name):
        return self.request("GET", container, name)[1]

    def properties(self, container, name):
        """{header: value} of a blob (HEAD), or None if it does not exist."""
        try:
            r, _ = self.request("HEAD", container, name)
        except AzureError as e:
            if e.status == 404:
                return None
            raise
        return {k.lower(): v for k, v in r.getheaders()}

    def exists(self, container, name):
        return self.properties(container, name) is not None

    def delete_blob(self, container, name):
        self.request("DELETE", container, name)

    def list_blobs(self, container, prefix="", page_size=None):
        """Every blob under prefix: [{"name", "size", "etag", "last_modified"}],
        following NextMarker; also returns the number of pages as .pages."""
        out, marker, pages = BlobList(), "", 0
        while True:
            q = [("restype", "container"), ("comp", "list")]
            if prefix:
                q.append(("prefix", prefix))
            if marker:
                q.append(("marker", marker))
            if page_size:
                q.append(("maxresults", str(page_size)))
            _, data = self.request("GET", container, query=q)
            pages += 1
            root = ET.fromstring(data)
            for b in root.iter("Blob"):
                name_el = b.find("Name")
                name = name_el.text or ""
                if name_el.get("Encoded") == "true":
                    name = urllib.parse.unquote(name)
                props = b.find("Properties")
                t = email.utils.parsedate_to_datetime(props.find("Last-Modified").text)
                out.append({"name": name, "size": int(props.find("Content-Length").text),
                            "etag": props.find("Etag").text.strip('"'),
                            "last_modified": t.timestamp()})
            marker = (root.findtext("NextMarker") or "")
            if not marker:
                break
        out.pages = pages
        return out

    def block_list(self, container, name, kind="all"):
        """{"committed": [(id, size)], "uncommitted": [(id, size)]}; None if no blob."""
        try:
            _, data = self.request("GET", container, name,
                                   query=[("comp", "blocklist"), ("blocklisttype", kind)])
        except AzureError as e:
            if e.status == 404:
                return None
            raise
        root = ET.fromstring(data)
        res = {}
        for part, tag in (("committed", "CommittedBlocks"), ("uncommitted", "UncommittedBlocks")):
            el = root.find(tag)
            res[part] = [] if el is None else [
                (blk.findtext("Name"), int(blk.findtext("Size"))) for blk in el.iter("Block")]
        return res


class BlobList(list):
    pages = 0


def utc_iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
