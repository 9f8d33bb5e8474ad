"""An independent model of what evshare must deliver, written from DESIGN.md
with Python's standard json and gzip modules only (no evshare code).

Given sources (their files in listing order) and additional subscribers, it
computes each subscriber's expected output lines, the quarantine entries and
the summary counts.
"""
import json
import zlib

REQUIRED_STRINGS = ("event_id", "org_id", "domain", "event_type", "timestamp")


class Corrupt(Exception):
    pass


def decode_file(data):
    """The file's decompressed bytes; gzip recognised by its magic bytes."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = []
    rest = data
    while rest:
        if rest[:2] != b"\x1f\x8b":
            raise Corrupt("data after the gzip stream")
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.append(d.decompress(rest))
        except zlib.error as e:
            raise Corrupt(str(e))
        if not d.eof:
            raise Corrupt("truncated")
        rest = d.unused_data
    return b"".join(out)


def split_lines(data):
    """[(line_number, bytes)] without terminators; blank lines dropped."""
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    out = []
    for i, p in enumerate(pieces, 1):
        if p.endswith(b"\r"):
            p = p[:-1]
        if p.strip(b" \t\r") == b"":
            continue
        out.append((i, p))
    return out


def _depth(v):
    if isinstance(v, dict):
        return 1 + max([_depth(x) for x in v.values()] or [0])
    if isinstance(v, list):
        return 1 + max([_depth(x) for x in v] or [0])
    return 0


def _check_strings(v):
    """Lone surrogates cannot be encoded to UTF-8: reject them."""
    if isinstance(v, str):
        v.encode("utf-8")
    elif isinstance(v, dict):
        for k, x in v.items():
            k.encode("utf-8")
            _check_strings(x)
    elif isinstance(v, list):
        for x in v:
            _check_strings(x)


def parse_event(line, max_depth=64):
    """(event dict, None) or (None, reason)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid UTF-8"
    # every object, at any depth: no key twice, no control character
    # (C0, DEL, C1) in a key
    bad_keys = []

    def hook(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            bad_keys.append("duplicate key")
        if any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f for k in keys for ch in k):
            bad_keys.append("control character in key")
        return dict(pairs)

    def bad_constant(name):
        raise ValueError("not JSON: " + name)

    try:
        ev = json.loads(text, object_pairs_hook=hook, parse_constant=bad_constant)
    except (ValueError, RecursionError) as e:
        return None, "invalid JSON: %s" % e
    try:
        _check_strings(ev)
    except UnicodeEncodeError:
        return None, "lone surrogate"
    if bad_keys:
        return None, bad_keys[0]
    if not isinstance(ev, dict):
        return None, "not an object"
    if _depth(ev) > max_depth:
        return None, "too deep"
    for k in REQUIRED_STRINGS:
        if k not in ev:
            return None, "missing " + k
        if not isinstance(ev[k], str):
            return None, "mistyped " + k
    sv = ev.get("schema_version")
    if "schema_version" not in ev:
        return None, "missing schema_version"
    if not isinstance(sv, int) or isinstance(sv, bool):
        return None, "mistyped schema_version"
    if not -2**63 <= sv < 2**63:
        return None, "mistyped schema_version"
    if ev["event_id"] == "":
        return None, "empty event_id"
    return ev, None


def _values_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def _flatten(v):
    if isinstance(v, list):
        out = []
        for x in v:
            out.extend(_flatten(x))
        return out
    return [v]


def matches(pattern, event):
    """The exact-match subset of EventBridge patterns."""
    if pattern is None:
        return True
    for key, cond in pattern.items():
        if key not in event:
            return False
        val = event[key]
        if isinstance(cond, dict):
            objs = [x for x in _flatten(val) if isinstance(x, dict)]
            if not any(matches(cond, o) for o in objs):
                return False
        else:
            vals = _flatten(val)
            if not any(_values_equal(v, c) for v in vals for c in cond):
                return False
    return True


class Expected:
    def __init__(self):
        self.lines = {}          # subscriber -> [bytes]
        self.matched = {}
        self.duplicates = {}
        self.quarantine = []     # (source org, key, line number, kind, bytes)
        self.read = 0
        self.malformed = 0
        self.rejected = 0
        self.failed_files = []   # (source org, key)
        self.processed_files = 0


def expected(sources, subscribers, max_line_bytes=1048576, max_depth=64):
    """sources: [(org_id, [(key, bytes)] in listing order)]
    subscribers: [(org_id, [linked org_ids], pattern or None, dedup)]"""
    exp = Expected()
    seen = {}
    for sub, _, _, _ in subscribers:
        exp.lines[sub] = []
        exp.matched[sub] = 0
        exp.duplicates[sub] = 0
        seen[sub] = set()
    for org, files in sources:
        linked = [s for s in subscribers if org in s[1]]
        if not linked:
            continue
        for key, data in files:
            try:
                text = decode_file(data)
            except Corrupt:
                exp.failed_files.append((org, key))
                continue
            exp.processed_files += 1
            per_file = {s[0]: [] for s in linked}
            for lineno, line in split_lines(text):
                exp.read += 1
                if len(line) > max_line_bytes:
                    exp.malformed += 1
                    exp.quarantine.append((org, key, lineno, "malformed", line))
                    continue
                ev, why = parse_event(line, max_depth)
                if ev is None:
                    exp.malformed += 1
                    exp.quarantine.append((org, key, lineno, "malformed", line))
                    continue
                if ev["org_id"] != org:
                    exp.rejected += 1
                    exp.quarantine.append((org, key, lineno, "rejected", line))
                    continue
                for sub, _, pattern, dedup in linked:
                    if matches(pattern, ev):
                        per_file[sub].append((ev["event_id"], line))
            for sub, _, _, dedup in linked:
                for eid, line in per_file[sub]:
                    exp.matched[sub] += 1
                    if dedup and eid in seen[sub]:
                        exp.duplicates[sub] += 1
                        continue
                    seen[sub].add(eid)
                    exp.lines[sub].append(line)
    return exp
