"""A hostile or broken object store for evshare's tests (test_hostile.py).

Speaks just enough S3 (ListObjectsV2, GET of an object, path-style:
/BUCKET/KEY) and Azure Blob Storage (List Blobs, GET of a blob:
/ACCOUNT/CONTAINER/KEY) to be a source, answers without checking any
signature, and misbehaves as each bucket or object is told to:

  objects    get="normal"     the bytes, with Content-Length
             get="endless"    the bytes again and again, forever, without
                              a Content-Length (read until the close)
             get="announce"   a Content-Length of 10 GiB, then the same
             get="drip"       Content-Length of the listed size, then
                              drip_bytes of the bytes repeated every
                              drip_interval seconds (a Range is
                              honoured: 206 from there)
             get="echo"       403 with an error whose Message echoes the
                              request line (query included) and headers
                              (echo_first: these headers first)
  listings   list="normal"    the objects, one page
             list="endless"   a page with keys_per_page fresh keys and a
                              fresh continuation token, every time
             list="echo"      403, echoing as above

It listens on 127.0.0.1 on a free port (known once the object exists: no
waiting), serves each connection on a daemon thread, counts what it sent
(sent[path] in bytes, pages[bucket]) and keeps every request's headers,
and stops with stop().  Standard library only: Debian's python3 runs it.
"""
import collections
import email.utils
import http.server
import itertools
import os
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape

GIB = 1 << 30


class Obj:
    def __init__(self, data, get="normal", listed_size=None, drip_bytes=1, drip_interval=1.0,
                 echo_first=()):
        self.data = data
        self.echo_first = echo_first
        self.get = get
        self.listed_size = len(data) if listed_size is None else listed_size
        self.drip_bytes = drip_bytes
        self.drip_interval = drip_interval
        self.etag = "%08x" % (hash(data) & 0xffffffff)


class Bucket:
    """kind "s3": path /NAME; kind "az": path /ACCOUNT/CONTAINER (name
    "ACCOUNT/CONTAINER")."""

    def __init__(self, name, kind="s3", objects=None, list="normal", keys_per_page=0,
                 prefix="", echo_first=()):
        self.name = name
        self.echo_first = echo_first
        self.kind = kind
        self.objects = objects or {}      # key -> Obj
        self.list = list
        self.keys_per_page = keys_per_page
        self.prefix = prefix


class Hostile:
    def __init__(self):
        self.buckets = {}                 # "/NAME" -> Bucket
        self.lock = threading.Lock()
        self.sent = collections.Counter()     # path -> body bytes written
        self.pages = collections.Counter()    # bucket name -> list pages served
        self.requests = []                # (method, raw path, {header: value})
        self.stopping = threading.Event()
        self.seq = itertools.count(1)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.hostile = self
        self.port = self.server.server_address[1]
        self.thread = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def add(self, bucket):
        self.buckets["/" + bucket.name] = bucket
        return bucket

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def find(self, path):
        """(bucket, key or None) for a request path."""
        best = None
        for prefix, b in self.buckets.items():
            if (path == prefix or path.startswith(prefix + "/")) and \
                    (not best or len(prefix) > len(best[0])):
                best = (prefix, b)
        if not best:
            return None, None
        rest = path[len(best[0]) + 1:]
        return best[1], urllib.parse.unquote(rest) if rest else None


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def s3_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    @property
    def h(self):
        return self.server.hostile

    def do_GET(self):
        h = self.h
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        with h.lock:
            h.requests.append(("GET", self.path, dict(self.headers.items())))
        bucket, key = h.find(url.path)
        if not bucket:
            return self.reply(404, b"no such bucket", "text/plain")
        listing = key is None and ("list-type" in query or query.get("comp") == ["list"])
        if listing:
            return self.list(bucket, query)
        obj = bucket.objects.get(key)
        if obj is None:
            return self.reply(404, b"", "text/plain")
        if obj.get == "echo":
            return self.echo(bucket, obj.echo_first)
        return self.get(url.path, obj)

    # --- replies -----------------------------------------------------------

    def reply(self, status, body, ctype, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def echo(self, bucket, first=()):
        """403 with the request line and every header in the message, on
        one line (Azure's parser keeps the first); the headers named in
        `first` before everything (a message may be cut short)."""
        items = self.headers.items()
        said = " ".join(["%s: %s" % kv for kv in items if kv[0].lower() in first] +
                        ["%s %s" % (self.command, self.path)] +
                        ["%s: %s" % kv for kv in items if kv[0].lower() not in first])
        if bucket.kind == "az":
            body = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed'
                    '</Code><Message>Server failed to authenticate the request: %s</Message>'
                    '<AuthenticationErrorDetail>%s</AuthenticationErrorDetail></Error>'
                    % (escape(said), escape(said)))
            return self.reply(403, body.encode(), "application/xml",
                              [("x-ms-error-code", "AuthenticationFailed")])
        body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
                '<Message>Access Denied for %s</Message><RequestId>1</RequestId></Error>'
                % escape(said))
        return self.reply(403, body.encode(), "application/xml")

    def list(self, bucket, query):
        h = self.h
        with h.lock:
            h.pages[bucket.name] += 1
        if bucket.list == "echo":
            return self.echo(bucket, bucket.echo_first)
        now = time.time() - 600
        if bucket.list == "endless":
            page = next(h.seq)
            items = [("%sendless/%08d-%04d.ndjson.gz" % (bucket.prefix, page, i), 10, "e%d" % i)
                     for i in range(bucket.keys_per_page)]
            token = "token-%d-%s" % (page, os.urandom(6).hex())
        else:
            items = [(k, o.listed_size, o.etag) for k, o in sorted(bucket.objects.items())]
            token = None
        if bucket.kind == "az":
            body = self.az_page(bucket, items, token, now)
        else:
            body = self.s3_page(bucket, items, token, now)
        return self.reply(200, body.encode(), "application/xml")

    def s3_page(self, bucket, items, token, now):
        out = ['<?xml version="1.0" encoding="UTF-8"?>'
               '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
               '<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000'
               '</MaxKeys><IsTruncated>%s</IsTruncated>'
               % (escape(bucket.name), escape(bucket.prefix), len(items),
                  "true" if token else "false")]
        for k, size, etag in items:
            out.append('<Contents><Key>%s</Key><LastModified>%s</LastModified><ETag>"%s"'
                       '</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass>'
                       '</Contents>' % (escape(k), s3_time(now), etag, size))
        if token:
            out.append('<NextContinuationToken>%s</NextContinuationToken>' % token)
        out.append('</ListBucketResult>')
        return "".join(out)

    def az_page(self, bucket, items, token, now):
        out = ['<?xml version="1.0" encoding="utf-8"?><EnumerationResults '
               'ServiceEndpoint="http://127.0.0.1/" ContainerName="%s"><Prefix>%s</Prefix>'
               '<Blobs>' % (escape(bucket.name.split("/")[-1]), escape(bucket.prefix))]
        for k, size, etag in items:
            out.append('<Blob><Name>%s</Name><Properties><Last-Modified>%s</Last-Modified>'
                       '<Etag>0x%s</Etag><Content-Length>%d</Content-Length><BlobType>'
                       'BlockBlob</BlobType></Properties></Blob>'
                       % (escape(k), http_date(now), etag.upper(), size))
        out.append('</Blobs><NextMarker>%s</NextMarker></EnumerationResults>'
                   % (token or ""))
        return "".join(out)

    def count(self, path, n):
        with self.h.lock:
            self.h.sent[path] += n

    def get(self, path, obj):
        try:
            if obj.get == "normal":
                self.reply(200, obj.data, "application/octet-stream",
                           [("ETag", '"%s"' % obj.etag)])
                self.count(path, len(obj.data))
            elif obj.get in ("endless", "announce"):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                if obj.get == "announce":
                    self.send_header("Content-Length", str(10 * GIB))
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                while not self.h.stopping.is_set():
                    self.wfile.write(obj.data)
                    self.count(path, len(obj.data))
            elif obj.get == "drip":
                self.drip(path, obj)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def drip(self, path, obj):
        size = obj.listed_size
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        self.wfile.flush()
        pos = start
        pattern = obj.data or b"x"
        while pos < size and not self.h.stopping.wait(obj.drip_interval):
            n = min(obj.drip_bytes, size - pos)
            # the data again and again from where the object is (a gzip
            # member repeated is a valid gzip file)
            off = pos % len(pattern)
            chunk = (pattern[off:] + pattern * (n // len(pattern) + 1))[:n]
            self.wfile.write(chunk)
            self.wfile.flush()
            self.count(path, n)
            pos += n


if __name__ == "__main__":
    # a manual look: an endless listing and an endless body on a free port
    hs = Hostile()
    hs.add(Bucket("endless-list", list="endless", keys_per_page=1000))
    hs.add(Bucket("endless-body", objects={"k": Obj(b"0123456789", get="endless")}))
    hs.start()
    print("listening on", hs.endpoint, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hs.stop()
