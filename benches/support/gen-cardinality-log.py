#!/usr/bin/env python3
"""A hostile Postfix log for `scripts/bench cardinality`: DOMAINS distinct recipient domains
(every 50th an internationalised name, every 7th in upper case) and CODES distinct reply codes,
most of them invalid or made up (basic `000`–`999` outside RFC 5321, enhanced codes with an
unknown class or subject, a 4-digit detail or a leading zero), in delivery-status lines
(`dsn=` and the quoted remote reply carry the code) and in smtpd rejections.

usage: gen-cardinality-log.py OUT [DOMAINS] [CODES]      (defaults 1000000, 10000)

Prints the number of lines written, and how many distinct basic and enhanced codes in it are
valid (only those may become label values).
"""
import random
import re
import sys
import time


def valid_basic(c):
    return 2 <= c // 100 <= 5 and (c // 10) % 10 <= 5


def codes(n, rng):
    """n distinct (basic, enhanced) spellings, nine in ten with an invalid part."""
    seen = set()
    out = []
    while len(out) < n:
        if len(out) % 10 == 0:  # a well-formed (maybe unassigned) code
            basic = "%d%d%d" % (rng.choice((2, 4, 5)), rng.randint(0, 5), rng.randint(0, 9))
            enh = "%s.%d.%d" % (basic[0], rng.randint(0, 7), rng.randint(0, 999))
        else:
            b = rng.randint(0, 999)
            while valid_basic(b) and rng.random() < 0.8:
                b = rng.randint(0, 999)
            basic = "%03d" % b
            kind = rng.randint(0, 4)
            if kind == 0:
                enh = "%d.%d.%d" % (rng.choice((0, 1, 3, 6, 7, 8, 9)), rng.randint(0, 7), rng.randint(0, 999))
            elif kind == 1:
                enh = "%d.%d.%d" % (rng.choice((2, 4, 5)), rng.randint(8, 999), rng.randint(0, 999))
            elif kind == 2:
                enh = "%d.%d.%d" % (rng.choice((2, 4, 5)), rng.randint(0, 7), rng.randint(1000, 99999))
            elif kind == 3:
                enh = "%d.0%d.%d" % (rng.choice((2, 4, 5)), rng.randint(0, 7), rng.randint(0, 999))
            else:
                enh = "%d.%d.%d" % (rng.randint(0, 9), rng.randint(0, 9999), rng.randint(0, 9999))
        if (basic, enh) not in seen:
            seen.add((basic, enh))
            out.append((basic, enh))
    return out


def domain(i):
    if i % 50 == 0:
        return "bücher-ß%d.example" % i
    if i % 7 == 0:
        return "D%d.EXAMPLE.COM" % i
    return "d%d.example.net" % i


def main():
    out_path = sys.argv[1]
    n_domains = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    n_codes = int(sys.argv[3]) if len(sys.argv) > 3 else 10_000
    rng = random.Random(7)
    cs = codes(n_codes, rng)
    t0 = int(time.mktime((2026, 11, 1, 0, 0, 0, 0, 0, -1)))
    # Every domain once, then a fifth more lines over domains seen before.
    total = n_domains + n_domains // 5
    n = 0
    with open(out_path, "w", encoding="utf-8", buffering=1 << 20) as f:
        for i in range(total):
            d = domain(i if i < n_domains else rng.randrange(n_domains))
            basic, enh = cs[i % n_codes]
            stamp = time.strftime("%b %e %H:%M:%S", time.localtime(t0 + i // 200))
            qid = "%X" % (0x1000000000 + i)
            if i % 4 == 3:
                f.write(
                    f"{stamp} mx postfix/smtpd[{1000 + i % 5000}]: NOQUEUE: reject: RCPT from "
                    f"unknown[192.0.2.{i % 250}]: {basic} {enh} <u{i}@{d}>: Recipient address rejected: "
                    f"made up; from=<s{i}@sender.example> to=<u{i}@{d}> proto=ESMTP helo=<h{i}.example>\n")
            else:
                status = {"2": "sent", "4": "deferred"}.get(basic[0], "bounced")
                f.write(
                    f"{stamp} mx postfix/smtp[{2000 + i % 5000}]: {qid}: to=<u{i}@{d}>, "
                    f"relay=mx.{d}[198.51.100.{i % 250}]:25, delay=0.{i % 10}, delays=0/0/0.1/0.{i % 10}, "
                    f"dsn={enh}, status={status} (host mx.{d}[198.51.100.{i % 250}] said: {basic} {enh} "
                    f"made-up reply {i} (in reply to RCPT TO command))\n")
            n += 1
    basic_ok = re.compile(r"^[2-5][0-5][0-9]$")
    enh_ok = re.compile(r"^[245]\.[0-7]\.(0|[1-9][0-9]{0,2})$")
    vb = {b for b, _ in cs if basic_ok.match(b)}
    ve = {e for _, e in cs if enh_ok.match(e)}
    print(f"{n} lines; valid among its codes: {len(vb)} distinct basic, {len(ve)} distinct enhanced")


if __name__ == "__main__":
    main()
