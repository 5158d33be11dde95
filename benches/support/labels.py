#!/usr/bin/env python3
"""Checks the label bound on `replay --format prometheus` output (`scripts/bench cardinality`):
at most MAX `domain` values besides `other` and the empty one, and every `code` / `enhanced`
label value (in every metric) a valid code: basic `[2-5][0-5][0-9]` (RFC 5321 §4.2), enhanced
`class.subject.detail` with class 2/4/5, subject 0–7, detail 0–999 without a leading zero
(`smtp_code_info{code}` holds either kind).

usage: labels.py OUT LINES [MAX]      (LINES: lines in the log, to check that all were counted)
"""
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from counts import prom  # noqa: E402

BASIC = re.compile(r"^[2-5][0-5][0-9]$")
ENHANCED = re.compile(r"^[245]\.[0-7]\.(0|[1-9][0-9]{0,2})$")


def main():
    out, lines = sys.argv[1], int(sys.argv[2])
    bound = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    domains, basics, enhanced, bad = set(), set(), set(), set()
    overflow = counted = replies = 0
    for name, l, v in prom(out):
        if "domain" in l:
            domains.add(l["domain"])
        for key in ("code", "enhanced"):
            val = l.get(key)
            if not val:
                continue
            # smtp_code_info's `code` holds basic and enhanced codes alike.
            if BASIC.match(val) and key == "code":
                basics.add(val)
            elif ENHANCED.match(val) and (key == "enhanced" or name == "smtp_code_info"):
                enhanced.add(val)
            else:
                bad.add((name, key, val))
        if name == "smtp_status_exporter_label_overflow_total" and l.get("label") == "domain":
            overflow += v
        if name == "smtp_status_exporter_lines_total":
            counted += v
        if name == "smtp_replies_total":
            replies += v
    own = domains - {"", "other"}
    failures = []
    if len(own) > bound:
        failures.append(f"{len(own)} domain values besides other (bound {bound})")
    if bad:
        failures.append(f"{len(bad)} invalid code label values, e.g. {sorted(bad)[:5]}")
    if int(counted) != lines:
        failures.append(f"lines_total {int(counted)} != {lines} lines in the log")
    print(f"domain label values: {len(own)} + other (bound {bound}); overflow counted: {int(overflow)}; "
          f"replies: {int(replies)}; distinct valid basic codes {len(basics)}, enhanced {len(enhanced)}, invalid {len(bad)}, "
          f"all valid: {'yes' if not bad else 'NO'}; lines counted {int(counted)} of {lines}")
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
