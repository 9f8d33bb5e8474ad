#!/usr/bin/env python3
"""Print the fold_runs[] table of src/filter.c.

Unicode simple case folding (CaseFolding.txt statuses C and S): every code
point whose folding is a single other code point.  Python's str.casefold()
gives the full folding (C and F); where that expands to several code points,
the simple folding (status S, e.g. U+1E9E -> U+00DF, U+1F88 -> U+1F80) is the
single-code-point lowercase mapping, and otherwise the code point folds to
itself.  Runs "start, start+stride, ... (count) fold to cp + delta" keep the
table short.  The Unicode version is unicodedata.unidata_version.
"""
import sys
import unicodedata


def simple_fold(cp):
    c = chr(cp)
    full = c.casefold()
    if len(full) == 1:
        return ord(full)
    low = c.lower()
    if len(low) == 1 and low != c:
        return ord(low)
    return cp


def main():
    pairs = [(cp, simple_fold(cp)) for cp in range(0x110000)
             if not 0xd800 <= cp <= 0xdfff and simple_fold(cp) != cp]
    runs, i = [], 0
    while i < len(pairs):
        start, target = pairs[i]
        delta = target - start
        best = (1, 1)
        for stride in (1, 2):
            n = 1
            while (i + n < len(pairs) and n < 255 and
                   pairs[i + n][0] == start + n * stride and
                   pairs[i + n][1] - pairs[i + n][0] == delta):
                n += 1
            if n > best[0]:
                best = (n, stride)
        runs.append((start, best[0], best[1], delta))
        i += best[0]
    print("/* Unicode %s: %d mappings in %d runs */" % (
        unicodedata.unidata_version, len(pairs), len(runs)), file=sys.stderr)
    for k in range(0, len(runs), 3):
        print("\t" + " ".join("{ 0x%05x, %2d, %d, %6d }," % r
                              for r in runs[k:k + 3]))


if __name__ == "__main__":
    main()
