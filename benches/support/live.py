#!/usr/bin/env python3
"""Live-tail benchmark for `scripts/bench live`: a writer appends realistic lines at a fixed
rate to a file that a running exporter follows; the exporter is scraped every 0.2 s and its
`smtp_status_exporter_lines_total` compared with the lines written.

usage: live.py BIN SOURCE_LOG WORKDIR [--rates 100000,300000,...] [--seconds S]

For each rate: a fresh exporter (fresh state file) on an empty file, then S seconds of writing.
Lag at a scrape = (lines written − lines counted) / rate, i.e. how many seconds behind the
writer the exporter is; its maximum over the run is reported, and how long the exporter took
after the writer stopped to count the last line (drain). CPU % is the exporter's utime+stime
(/proc/PID/stat) over the writing period, in % of one core (200 % = both cores). A rate passes
when the lag stayed under 1 s and the count ended equal to the lines written.
"""
import argparse
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

BLOCK = 500  # lines per write()
POOL_BYTES = 192 << 20
SCRAPE = 0.2
LINES = re.compile(rb"^smtp_status_exporter_lines_total\{[^}]*\}\s+(\S+)", re.M)


def load_pool(path):
    """Blocks of BLOCK whole lines from the start of a realistic log (cycled by the writer)."""
    with open(path, "rb") as f:
        data = f.read(POOL_BYTES)
    data = data[: data.rfind(b"\n") + 1]
    lines = data.splitlines(keepends=True)
    blocks = [b"".join(lines[i : i + BLOCK]) for i in range(0, len(lines) - BLOCK + 1, BLOCK)]
    return blocks


def writer(path, rate, seconds, blocks, written, start, done):
    """Appends lines so that `rate * elapsed` have been written at any moment."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    total = int(rate * seconds) // BLOCK * BLOCK
    t0 = time.monotonic()
    start.value = t0
    n = i = 0
    while n < total:
        due = min(total, int(rate * (time.monotonic() - t0)))
        while n < due:
            os.write(fd, blocks[i])
            i = (i + 1) % len(blocks)
            n += BLOCK
            written.value = n
        time.sleep(0.001)
    os.close(fd)
    done.value = time.monotonic() - t0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            body = r.read()
    except OSError:
        return None
    return int(sum(float(v) for v in LINES.findall(body)))


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def run_rate(bin_path, blocks, workdir, rate, seconds):
    os.makedirs(workdir, exist_ok=True)
    log = os.path.join(workdir, "mail.log")
    state = os.path.join(workdir, "state.json")
    for p in (log, state):
        if os.path.exists(p):
            os.remove(p)
    open(log, "wb").close()
    port = free_port()
    err = open(os.path.join(workdir, "exporter.err"), "wb")
    proc = subprocess.Popen(
        [bin_path, "--log.path", log, "--web.listen-address", f"127.0.0.1:{port}",
         "--state.file", state, "--log.level", "warn"],
        stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 15
        while scrape(port) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"exporter did not start, see {workdir}/exporter.err")
            time.sleep(0.05)
        base = scrape(port) or 0
        written, start, done = mp.Value("q", 0), mp.Value("d", 0.0), mp.Value("d", 0.0)
        w = mp.Process(target=writer, args=(log, rate, seconds, blocks, written, start, done))
        hz = os.sysconf("SC_CLK_TCK")
        c0, t0 = cpu_ticks(proc.pid), time.monotonic()
        w.start()
        lags = []
        while w.is_alive():
            time.sleep(SCRAPE)
            wn = written.value
            counted = scrape(port)
            if counted is None:
                continue
            lags.append(max(0, wn - (counted - base)) / rate)
        w.join()
        c1, t1 = cpu_ticks(proc.pid), time.monotonic()
        total = written.value
        drain_deadline = time.monotonic() + 30
        counted = 0
        while time.monotonic() < drain_deadline:
            counted = (scrape(port) or base) - base
            if counted >= total:
                break
            time.sleep(0.05)
        drain = time.monotonic() - t1
        write_s = done.value or (t1 - t0)
        return {
            "rate": rate,
            "written": total,
            "achieved": total / write_s if write_s else 0,
            "counted": counted,
            "max_lag": max(lags) if lags else float("nan"),
            "p50_lag": statistics.median(lags) if lags else float("nan"),
            "drain": drain,
            "cpu": 100.0 * (c1 - c0) / hz / (t1 - t0),
            "rss": hwm_kib(proc.pid) / 1024,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        for p in (log,):
            if os.path.exists(p):
                os.remove(p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("source_log")
    ap.add_argument("workdir")
    ap.add_argument("--rates", default="100000,300000,500000,1000000")
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    blocks = load_pool(a.source_log)
    if not blocks:
        sys.exit("no lines in " + a.source_log)
    print(f"writer: {BLOCK} lines per write, cycling {len(blocks) * BLOCK} lines of {a.source_log}; "
          f"{a.seconds:g} s per rate; scrape every {SCRAPE} s")
    print(f"| target lines/s | written lines/s | max lag s | median lag s | drain s | exporter CPU % | exporter RSS MiB | lag < 1 s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    best = None
    for rate in (int(r) for r in a.rates.split(",")):
        r = run_rate(a.bin, blocks, os.path.join(a.workdir, str(rate)), rate, a.seconds)
        ok = r["max_lag"] < 1.0 and r["counted"] == r["written"] and r["achieved"] >= 0.95 * rate
        if ok:
            best = rate
        note = "yes" if ok else ("no" if r["achieved"] >= 0.95 * rate else "no (writer fell behind)")
        if r["counted"] != r["written"]:
            note += f", counted {r['counted']} of {r['written']}"
        print(f"| {rate:,} | {r['achieved']:,.0f} | {r['max_lag']:.2f} | {r['p50_lag']:.2f} | {r['drain']:.2f} "
              f"| {r['cpu']:.0f} | {r['rss']:.1f} | {note} |", flush=True)
    print(f"highest rate with lag < 1 s: {best:,} lines/s" if best else "no rate kept the lag under 1 s")


if __name__ == "__main__":
    main()
