#!/usr/bin/env python3
"""Throughput of evshare's S3 backend against the local peer (not a test).

    $(pyenv root)/versions/3.11.7/bin/python3 tests/integration/bench_s3.py [MB] [BUILD]

Builds a small driver against BUILD/libevshare.a (default build, from
`make`) that calls the store interface directly - store_put of a local file
(one PUT, then multipart with 16 MiB parts) and store_get into a callback
that only counts - so the numbers are the backend's, not the gunzip
pipeline's.  The object is MB (default 200) megabytes of random bytes.
boto3 through the same peer is the baseline: the peer (Python, moto
behind it, whole bodies buffered) is the limit on this machine, not curl.
Also prints the connections each operation opened.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import s3harness  # noqa: E402

s3harness.reexec_with_boto3()

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"
#include "store.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int count(void *ud, const char *p, size_t n)
{
	(void)p;
	*(unsigned long long *)ud += n;
	return 0;
}

/* bench put|get URL KEY [FILE] [PART_SIZE] */
int main(int argc, char **argv)
{
	location loc;
	buf err = BUF_INIT;
	store *s;
	double t0, t;
	unsigned long long bytes = 0;

	log_setup(LOG_TEXT, getenv("BENCH_TRACE") ? LOG_TRACE : LOG_WARNING);
	if (argc < 4 || location_parse(argv[2], NULL, &loc, &err) != ES_OK)
		return 2;
	if (argc > 5) {
		loc.part_size = strtoull(argv[5], NULL, 10);
		loc.multipart_threshold = loc.part_size;
	} else {
		loc.multipart_threshold = 5ull << 30;
	}
	if (store_open(&loc, &s) != ES_OK)
		return 1;
	if (!strcmp(argv[1], "put")) {
		FILE *f = fopen(argv[4], "rb");
		fseek(f, 0, SEEK_END);
		bytes = (unsigned long long)ftell(f);
		fclose(f);
		t0 = now();
		if (store_put(s, argv[3], argv[4]) != ES_OK)
			return 1;
	} else {
		store_list l = { 0 };
		const store_object *o = NULL;
		if (store_list_objects(s, &l) != ES_OK)
			return 1;
		for (size_t i = 0; i < l.count; i++)
			if (!strcmp(l.items[i].key, argv[3]))
				o = &l.items[i];
		if (!o)
			return 1;
		t0 = now();
		if (store_get(s, o, count, &bytes) != ES_OK)
			return 1;
		store_list_release(&l);
	}
	t = now() - t0;
	printf("{\"bytes\": %llu, \"seconds\": %.4f}\n", bytes, t);
	store_free(s);
	location_release(&loc);
	return 0;
}
"""


def build_driver(build, tmp):
    src = os.path.join(tmp, "bench_store.c")
    exe = os.path.join(tmp, "bench_store")
    with open(src, "w") as f:
        f.write(DRIVER)
    libs = subprocess.run(["pkg-config", "--libs", "libcurl", "openssl", "zlib", "expat"],
                          capture_output=True, text=True, check=True).stdout.split()
    cflags = subprocess.run(["pkg-config", "--cflags", "libcurl", "openssl", "zlib", "expat"],
                            capture_output=True, text=True, check=True).stdout.split()
    subprocess.run(["cc", "-std=c11", "-O2", "-D_GNU_SOURCE", "-I", os.path.join(ROOT, "include")] + cflags +
                   ["-o", exe, src, os.path.join(ROOT, build, "libevshare.a")] + libs + ["-lpthread", "-lm"],
                   check=True)
    return exe


def run_driver(exe, p, args):
    env = dict(os.environ, **p.env())
    env["BENCH_TRACE"] = "1"
    r = subprocess.run([exe] + args, capture_output=True, env=env, text=True)
    if r.returncode:
        raise SystemExit("driver %s failed (%d): %s" % (args[:1], r.returncode, r.stderr))
    out = json.loads(r.stdout)
    # time on the wire: the sum of the requests' times in the trace lines
    out["wire"] = sum(float(m) for m in re.findall(r"B, ([0-9.]+) s\)", r.stderr))
    return out


def mbps(nbytes, secs):
    return nbytes / secs / 1e6 if secs > 0 else float("inf")


def main():
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    build = sys.argv[2] if len(sys.argv) > 2 else "build"
    if not os.path.exists(os.path.join(ROOT, build, "libevshare.a")):
        raise SystemExit("no %s/libevshare.a: run make first" % build)
    p = s3harness.peer()
    try:
        with tempfile.TemporaryDirectory(prefix="evshare-bench.") as tmp:
            exe = build_driver(build, tmp)
            path = os.path.join(tmp, "object.bin")
            h = hashlib.md5()
            with open(path, "wb") as f:
                for _ in range(mb):
                    chunk = os.urandom(1 << 20)
                    h.update(chunk)
                    f.write(chunk)
            size = mb << 20
            bucket = s3harness.new_bucket(p, "bench")
            url = "s3://%s/bench/" % bucket
            rows = []

            def op(name, args, nbytes):
                p.reset_stats()
                r = run_driver(exe, p, args)
                st = p.stats()
                rows.append((name, nbytes, r["seconds"], r["wire"], st["connections"], st["requests"]))

            op("evshare PUT (one request)", ["put", url, "bench/single.bin", path], size)
            op("evshare PUT (multipart, 16 MiB parts)", ["put", url, "bench/multi.bin", path, str(16 << 20)], size)
            op("evshare GET (streamed)", ["get", url, "bench/single.bin"], size)
            head = p.client().head_object(Bucket=bucket, Key="bench/single.bin")
            assert head["ContentLength"] == size and head["ETag"].strip('"') == h.hexdigest(), head
            assert p.list_multipart_uploads(bucket) == []
            # baseline: boto3 through the same peer
            c = p.client()
            with open(path, "rb") as f:
                data = f.read()
            t0 = time.time()
            c.put_object(Bucket=bucket, Key="bench/boto3.bin", Body=data)
            rows.append(("boto3 put_object (baseline)", size, time.time() - t0, None, None, None))
            del data
            t0 = time.time()
            body = c.get_object(Bucket=bucket, Key="bench/boto3.bin")["Body"]
            n = 0
            while True:
                b = body.read(1 << 20)
                if not b:
                    break
                n += len(b)
            rows.append(("boto3 get_object (baseline)", n, time.time() - t0, None, None, None))
            print("object: %d MiB of random bytes, peer %s (moto behind a Python front end)" % (mb, p.endpoint))
            print("%-40s %8s %8s %8s %13s %6s" % ("operation", "MB", "seconds", "MB/s",
                                                  "on the wire", "conns"))
            for name, nbytes, secs, wire, conns, reqs in rows:
                print("%-40s %8.1f %8.3f %8.1f %13s %6s" % (
                    name, nbytes / 1e6, secs, mbps(nbytes, secs),
                    "" if wire is None else "%.3f s %5.0f" % (wire, mbps(nbytes, wire)),
                    "" if conns is None else "%d/%d" % (conns, reqs)))
            print("(on the wire: the requests' own time and MB/s, from the -v -v trace; the rest\n"
                  " of a PUT is hashing the body for Content-MD5 and x-amz-content-sha256.\n"
                  " conns: connections opened / requests, per the peer's stats)")
    finally:
        s3harness.stop_peers()


if __name__ == "__main__":
    main()
