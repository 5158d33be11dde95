#!/usr/bin/env python3
"""Builds a large, realistic Postfix log by expanding real lines.

Takes template logs captured from real Postfix runs (tests/fixtures/postfix/*.log) and writes
them out again and again, each round with fresh queue ids (consistent within a round),
recipients spread over a few thousand domains with a long-tailed popularity, and timestamps
that move forward. The mix of daemons, outcomes and codes stays the real one; what a cache or
a branch predictor could exploit in a log of one repeated line does not.

usage: gen-postfix-log.py OUT SIZE_MB TEMPLATE...
"""
import random
import re
import sys
import time

QUEUE_ID = re.compile(rb"\b[0-9A-F]{8,12}\b|\b[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,15}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{3,5}\b")
ADDR = re.compile(rb"<([^<>@\s]+)@([^<>\s]+)>")
CLASSIC_TS = re.compile(rb"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d")


def main():
    out_path, size_mb, templates = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    lines = []
    for t in templates:
        with open(t, "rb") as f:
            lines.extend(l for l in f.read().splitlines() if l)
    if not lines:
        sys.exit("no template lines")
    rng = random.Random(42)
    # Long-tailed domain popularity: a few big providers, many small domains.
    domains = [b"gmail.com", b"outlook.com", b"yahoo.com", b"gmx.de", b"web.de", b"orange.fr"]
    domains += [b"d%d.example" % i for i in range(3000)]
    weights = [30, 20, 10, 5, 5, 5] + [1.0 / (i + 1) for i in range(3000)]
    target = size_mb * 1024 * 1024
    written = 0
    t0 = int(time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1)))
    second = 0
    with open(out_path, "wb", buffering=1 << 20) as out:
        while written < target:
            ids = {}
            dom_map = {}

            def qid(m):
                k = m.group(0)
                if k not in ids:
                    ids[k] = b"%X" % rng.getrandbits(40)
                return ids[k]

            def addr(m):
                local, dom = m.group(1), m.group(2).lower()
                if dom not in dom_map:
                    dom_map[dom] = rng.choices(domains, weights)[0]
                return b"<%s%d@%s>" % (local[:24], rng.getrandbits(20), dom_map[dom])

            chunk = []
            for l in lines:
                second += 1 if rng.random() < 0.02 else 0
                stamp = time.strftime("%b %e %H:%M:%S", time.localtime(t0 + second)).encode()
                l = CLASSIC_TS.sub(stamp, l, count=1)
                l = QUEUE_ID.sub(qid, l)
                l = ADDR.sub(addr, l)
                chunk.append(l)
            data = b"\n".join(chunk) + b"\n"
            out.write(data)
            written += len(data)


if __name__ == "__main__":
    main()
