#!/bin/sh
# The CI replay of a fixture bucket: run evshare over the file: buckets
# in fixture/ with the configuration ci.json, and compare what each
# partner receives with expected/SUBSCRIBER.ndjson and the summary's
# event counts with expected/events.json.  No network, no state kept:
# everything happens in a temporary copy, and the exit status says
# whether the output is as expected.
#
#   EVSHARE=./evshare examples/ci-replay/run.sh
#
# To use it for your own filters: put sample files under fixture/, your
# subscribers in ci.json, run it once, check the output by hand and copy
# it to expected/.  --replay reads every file whatever its age (a normal
# first run reads only the lookback window) and records nothing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
evshare=${EVSHARE:-evshare}
work=$(mktemp -d "${TMPDIR:-/tmp}/evshare-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -R "$here/." "$work/"
# one last-modified time for every file: they are read in key order
find "$work/fixture" -type f -exec touch -d 2026-11-26T12:00:00Z {} +

"$evshare" -q -c "$work/ci.json" check
"$evshare" -q -c "$work/ci.json" run --replay --no-progress --json >"$work/summary.json"

status=0
grep -q '"status":"ok"' "$work/summary.json" || { echo "run status is not ok" >&2; status=1; }
if ! grep -qF "$(cat "$here/expected/events.json")" "$work/summary.json"; then
	echo "event counts differ: expected $(cat "$here/expected/events.json")" >&2
	status=1
fi
for want in "$here"/expected/*.ndjson; do
	sub=$(basename "$want" .ndjson)
	got="$work/got-$sub.ndjson"
	: >"$got"
	for obj in "$work/out/$sub"/*.ndjson.gz; do
		[ -f "$obj" ] && gzip -dc "$obj" >>"$got"
	done
	if ! cmp -s "$want" "$got"; then
		echo "output of $sub differs from expected/$sub.ndjson:" >&2
		diff "$want" "$got" >&2 || true
		status=1
	fi
done
[ $status -eq 0 ] && echo "ci-replay: ok ($(ls "$here"/expected/*.ndjson | wc -l) subscriber(s) as expected)"
exit $status
