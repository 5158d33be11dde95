#!/usr/bin/env python3
"""Compares what the tools of `scripts/bench` counted on one log with what smtp-status-exporter
counted on it, for the counts each tool reports.

usage: counts.py LOG OURS [--mtail F] [--ppe F] [--pflogsumm F] [--grep F]

OURS is `replay --format prometheus` output. Prints one line per comparison, `ok` or `DIFF`,
and exits 1 when any differs. Where a tool counts a narrower set of lines than we do, the
difference is measured with `grep -c` on the log and named, never assumed.
"""
import argparse
import collections
import re
import subprocess
import sys

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def prom(path):
    """Yields (name, labels, value) of a Prometheus text exposition."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = SERIES.match(line)
            if m:
                yield m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))


def grep_count(pattern, log, extended=False):
    args = ["grep", "-c"] + (["-E"] if extended else []) + ["--", pattern, log]
    r = subprocess.run(args, capture_output=True, text=True, env={"LC_ALL": "C"})
    return int(r.stdout.strip() or 0)


def ours(path):
    totals = collections.Counter()
    series = collections.Counter()
    for name, l, v in prom(path):
        if name == "smtp_replies_total":
            totals[(l["direction"], l["outcome"])] += v
            series[(l["direction"], l["outcome"], l["code"], l["enhanced"])] += v
        elif name == "smtp_expired_total":
            totals[("expired", "")] += v
        elif name == "smtp_status_exporter_lines_total":
            totals[("lines", l["result"])] += v
    return totals, series


MTAIL_OUT = {"sent": "delivered", "deferred": "deferred", "SOFTBOUNCE": "deferred",
             "bounced": "bounced", "deliverable": "deliverable",
             "undeliverable": "undeliverable",
             "undeliverable-but-not-cached": "undeliverable-but-not-cached"}
MTAIL_IN = {"reject": "rejected", "milter-reject": "rejected", "proxy-reject": "rejected",
            "reject_warning": "warned", "hold": "held", "discard": "discarded"}


def mtail(path):
    totals = collections.Counter()
    series = collections.Counter()
    for name, l, v in prom(path):
        if name == "postfix_outbound_replies_total":
            k = ("outbound", MTAIL_OUT.get(l["status"], "?" + l["status"]))
        elif name == "postfix_inbound_replies_total":
            k = ("inbound", MTAIL_IN.get(l["action"], "?" + l["action"]))
        elif name == "postfix_expired_total":
            totals[("expired", "")] += v
            continue
        else:
            continue
        totals[k] += v
        series[k + (l["code"], l["enhanced"])] += v
    return totals, series


def pflogsumm(path):
    """The Grand Totals of a pflogsumm report: (number, unit), unit '' or 'k' (it prints counts
    above 512 Ki in units of 1024, truncated) or 'm'."""
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for key, pat in [("delivered", r"^\s*(\d+)([km]?)\s+delivered$"),
                     ("deferrals", r"\((\d+)([km]?)\s+deferrals\)"),
                     ("bounced", r"^\s*(\d+)([km]?)\s+bounced$"),
                     ("rejected", r"^\s*(\d+)([km]?)\s+rejected \("),
                     ("reject warnings", r"^\s*(\d+)([km]?)\s+reject warnings$")]:
        m = re.search(pat, text, re.M)
        if m:
            out[key] = (int(m.group(1)), m.group(2))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("ours")
    ap.add_argument("--mtail")
    ap.add_argument("--ppe")
    ap.add_argument("--pflogsumm")
    ap.add_argument("--grep", help="output of grep -c status= on the log")
    a = ap.parse_args()
    o, oseries = ours(a.ours)
    failures = 0

    def check(tool, what, theirs, expected, how="", ref="ours", unit=""):
        """unit 'k'/'m': `theirs` is in units of 1024 / 1048576, truncated."""
        nonlocal failures
        div = {"": 1, "k": 1024, "m": 1048576}[unit]
        ok = theirs is not None and int(theirs) == int(expected) // div
        failures += not ok
        shown = "?" if theirs is None else f"{int(theirs)}{unit}"
        print(f"  {'ok  ' if ok else 'DIFF'} {tool:<27} {what:<36} {shown:>10} vs {ref} {int(expected):>10}"
              + (f"  ({how})" if how else ""))

    out = lambda outcome: o[("outbound", outcome)]  # noqa: E731
    inb = lambda outcome: o[("inbound", outcome)]  # noqa: E731

    if a.grep:
        status = int(open(a.grep).read().split()[0])
        counted = sum(v for (d, _), v in o.items() if d == "outbound") + o[("expired", "")]
        check("grep -c status=", "status= lines", status, counted,
              "ours: outbound replies + expiries (status=expired and status=force-expired)")

    if a.mtail:
        t, series = mtail(a.mtail)
        for k in sorted(set(o) | set(t)):
            if k[0] in ("outbound", "inbound", "expired"):
                check("mtail", " ".join(x for x in k if x), t[k], o[k])
        diff = {k for k in set(series) | set(oseries) if series[k] != oseries[k]}
        check("mtail", "series (direction,outcome,code,enh)", len(series) - len(diff), len(oseries),
              f"{len(diff)} of {len(set(series) | set(oseries))} series differ" if diff else "every series equal")
        for k in sorted(diff)[:10]:
            print(f"       {k}: mtail {int(series[k])}, ours {int(oseries[k])}")

    if a.ppe:
        vals = collections.Counter()
        for name, l, v in prom(a.ppe):
            vals[name] += v
        # Its parser reads `postfix/<program>[pid]`, so it sees only `postfix/smtp` deliveries
        # (not lmtp, local, error, cleanup, … nor postfix-out/…), and only the word `deferred`.
        softbounce = grep_count("status=SOFTBOUNCE ", a.log)
        smtp_deferred = grep_count(r" postfix/smtp\[[0-9]+\]: .*, status=deferred ", a.log, True)
        check("prometheus-postfix-exporter", "postfix_smtp_status_deferred",
              vals["postfix_smtp_status_deferred"], smtp_deferred,
              f"grep: postfix/smtp status=deferred lines; ours counts {int(out('deferred'))} = these"
              f" + {softbounce} SOFTBOUNCE + {int(out('deferred')) - softbounce - smtp_deferred} of other programs",
              ref="grep")
        smtp_status = grep_count(r" postfix/smtp\[[0-9]+\]: [0-9A-Za-z]+: to=<.*, status=", a.log, True)
        check("prometheus-postfix-exporter", "delivery_delay_seconds_count / 4",
              vals["postfix_smtp_delivery_delay_seconds_count"] / 4, smtp_status,
              "grep: postfix/smtp status= lines; it observes 4 stages per line", ref="grep")

    if a.pflogsumm:
        p = pflogsumm(a.pflogsumm)
        softbounce = grep_count("status=SOFTBOUNCE ", a.log)
        cleanup_bounced = grep_count(r" postfix/cleanup\[[0-9]+\]: .*, status=bounced ", a.log, True)

        def pf(key, expected, how=""):
            v, unit = p.get(key, (None, ""))
            check("pflogsumm", key, v, expected, how, unit=unit)

        # It reads only the syslog name `postfix` (--syslog-name): not postfix-out/…
        other_name = grep_count(r"^[^ ]+ +[0-9]+ [0-9:]+ [^ ]+ postfix-[^ ]*\[[0-9]+\]: [0-9A-Za-z]+: to=<.*, status=sent ",
                                a.log, True)
        pf("delivered", out("delivered") - other_name,
           f"ours minus {other_name} status=sent of other syslog names (postfix-out/…), which it skips")
        pf("deferrals", out("deferred") - softbounce,
           f"ours minus {softbounce} status=SOFTBOUNCE, which it does not count")
        pf("bounced", out("bounced") - cleanup_bounced,
           f"ours minus {cleanup_bounced} cleanup status=bounced, which it does not count")
        v, unit = p.get("rejected", (None, ""))
        print(f"  info pflogsumm                   rejected                             {v}{unit:>1} vs ours {int(inb('rejected')):>10}"
              "  (not compared: it counts a narrower set of refusals, e.g. no smtpd proxy-reject)")

    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
