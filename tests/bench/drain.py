#!/usr/bin/python3
"""Backlog drain against the floor, and memory, on the loopback Dovecot + SMTP sink harness.

1. Loads N customer messages (dev-corpus mail that gets a reply, each with a unique Message-ID
   and its own sender; generated text when ../shared/corpus/dev is absent) into the test
   Dovecot, then times `supportd run --once` until every message is answered at the SMTP sink,
   sampling /proc/PID/status (VmHWM, VmRSS) and the daemon's CPU time.
2. The floor on the same servers: one `UID FETCH 1:* (BODY.PEEK[])` of the mailbox (imaplib
   reads the whole streamed response), then the N replies supportd sent, re-sent over one SMTP
   connection (smtplib). The ratio is drain / floor.
3. Memory in service mode: `supportd run` (no --once) over the same store and mailbox; VmRSS once
   it is idle, then REPEAT more drains of M messages each, VmRSS after each (growth).

Prints a human-readable report, then "figure<TAB>name<TAB>value<TAB>unit<TAB>target" lines for
scripts/bench.sh. Run with Debian's /usr/bin/python3 (it has python3-aiosmtpd for the sink).
"""

import argparse
import imaplib
import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (  # noqa: E402
    USER, line_clock, log, mailservers, reply_templates, replace_sink, sampler, sink_count,
    start_servers, stop_servers, write_config, write_messages)


def wait_for_replies(folder, target, proc, smp, timeout):
    """Seconds until the sink holds `target` replies (None on timeout or early exit)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        smp.sample()
        if sink_count(folder) >= target:
            return True
        if proc.poll() is not None and sink_count(folder) < target:
            smp.sample()
            return sink_count(folder) >= target
        time.sleep(0.05)
    return False


# --- The floor --------------------------------------------------------------------------------

def floor_fetch(st, expect):
    conn = imaplib.IMAP4("127.0.0.1", st["imap_port"], timeout=300)
    conn.login(USER, "test")
    conn.select("INBOX", readonly=True)
    t = time.monotonic()
    typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[])")
    elapsed = time.monotonic() - t
    got = sum(1 for d in data if isinstance(d, tuple))
    nbytes = sum(len(d[1]) for d in data if isinstance(d, tuple))
    conn.logout()
    if typ != "OK" or got < expect:
        raise RuntimeError(f"UID FETCH returned {typ} with {got} of {expect} messages")
    return elapsed, nbytes


def floor_send(st, replies):
    t = time.monotonic()
    s = smtplib.SMTP("127.0.0.1", st["smtp_port"], timeout=300)
    s.ehlo("bench.example")
    for rcpt, data in replies:
        s.sendmail("", [rcpt], data)  # "" is MAIL FROM:<>, as supportd sends
    s.quit()
    return time.monotonic() - t


def sent_replies(folder, limit):
    d = os.path.join(folder, "smtp")
    out = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(d, name)) as f:
            meta = json.load(f)
        with open(os.path.join(d, meta.get("eml") or name[:-5] + ".eml"), "rb") as f:
            out.append((meta["rcpt_tos"][0], f.read()))
        if len(out) >= limit:
            break
    return out


# --- Main -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--supportd", required=True, help="the supportd binary")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=50, help="[imap] batch_size")
    ap.add_argument("--smtp-connections", type=int, default=1, help="[smtp] connections")
    ap.add_argument("--repeat", type=int, default=3, help="drains in service mode")
    ap.add_argument("--repeat-messages", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--keep", action="store_true", help="keep the folder")
    ap.add_argument("--wrap", default="", help="command prefix for the --once run, e.g. "
                    "'strace -f -c -w -o /tmp/drain.strace' (figures are then not comparable)")
    ap.add_argument("--once-only", action="store_true", help="skip the floor and service runs")
    a = ap.parse_args()
    a.supportd = os.path.abspath(a.supportd)  # the daemon runs in the servers folder

    folder = tempfile.mkdtemp(prefix="supportd-drain-")
    os.chmod(folder, 0o755)
    st = None
    sink = None
    figures = []
    try:
        templates, what = reply_templates(a.supportd)
        log(f"messages: {a.messages} from {what}; [imap] batch_size = {a.batch_size}")
        paths = write_messages(os.path.join(folder, "in"), templates, a.messages, run=0)
        st = start_servers(os.path.join(folder, "servers"))
        servers = st["dir"]
        sink = replace_sink(st)
        t = time.monotonic()
        uids = mailservers.append_files(st, USER, paths)
        log(f"appended {len(uids)} messages in {time.monotonic() - t:.1f} s")
        cfg = write_config(servers, st, a.batch_size, poll_seconds=1,
                           smtp_connections=a.smtp_connections)
        os.makedirs(os.path.join(servers, "state"), exist_ok=True)

        # 1. supportd run --once.
        t = time.monotonic()
        proc = subprocess.Popen([*a.wrap.split(), a.supportd, "run", "--once", "--config", cfg],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=servers,
                                text=True, errors="replace")
        clock = line_clock(proc.stdout, os.path.join(servers, "once.log"))
        smp = sampler(proc)
        done = wait_for_replies(servers, a.messages, proc, smp, a.timeout)
        drain = time.monotonic() - t
        replied = sink_count(servers)
        while proc.poll() is None:
            smp.sample()
            time.sleep(0.02)
        exited = time.monotonic() - t
        if not done:
            log(f"WARNING: only {replied} of {a.messages} replies arrived "
                f"(exit {proc.returncode}; see {servers}/once.log)")
        rate = replied / drain if drain > 0 else 0
        log(f"supportd run --once: {replied} replies in {drain:.2f} s ({rate:.0f} msg/s), "
            f"exited after {exited:.2f} s; CPU {smp.cpu:.2f} s; peak RSS {smp.hwm / 1024:.1f} MB")
        phases, last = clock.phases(t)
        phases["after the last reply (flags, exit)"] = max(0.0, exited - (last - t))
        for name, secs in phases.items():
            log(f"  {name:40s} {secs:7.2f} s  {1000 * secs / max(replied, 1):6.2f} ms/msg")

        if a.once_only:
            return 0
        # 2. The floor.
        fetch_s, nbytes = floor_fetch(st, a.messages)
        replies = sent_replies(servers, a.messages)
        send_s = floor_send(st, replies)
        floor = fetch_s + send_s
        log(f"floor: UID FETCH 1:* {fetch_s:.2f} s ({nbytes / 1e6:.1f} MB) + "
            f"{len(replies)} replies over one SMTP connection {send_s:.2f} s = {floor:.2f} s")
        ratio = drain / floor if floor > 0 else float("inf")
        log(f"ratio supportd / floor: {ratio:.2f}")
        figures += [
            (f"drain {a.messages} msgs: supportd run --once", f"{drain:.2f}",
             f"s ({rate:.0f} msg/s, CPU {smp.cpu:.1f} s)", ""),
            (f"floor: UID FETCH 1:* + {len(replies)} SMTP sends", f"{floor:.2f}",
             f"s (fetch {fetch_s:.2f} + send {send_s:.2f})", ""),
            ("drain / floor", f"{ratio:.2f}", "x", "<= 1.5"),
            ("peak RSS during drain (VmHWM)", f"{smp.hwm / 1024:.1f}", "MB", "<= 40"),
        ]

        # 3. Service mode: idle RSS over the drained store, then repeated drains.
        errlog = open(os.path.join(servers, "service.log"), "w")
        proc = subprocess.Popen([a.supportd, "run", "--config", cfg],
                                stdout=errlog, stderr=subprocess.STDOUT, cwd=servers)
        smp = sampler(proc)
        try:
            def idle_rss(settle=3.0):
                # Idle: nothing new at the sink for `settle` s (polls keep running meanwhile).
                last, since = sink_count(servers), time.monotonic()
                while time.monotonic() - since < settle:
                    time.sleep(0.2)
                    smp.sample()
                    now = sink_count(servers)
                    if now != last:
                        last, since = now, time.monotonic()
                return smp.sample()

            s0 = idle_rss()
            rss = [s0[1]] if s0 else [0]
            if s0:
                log(f"service idle over the drained store: VmRSS {s0[1] / 1024:.1f} MB "
                    f"(anonymous {s0[2] / 1024:.1f} MB, file-backed {s0[3] / 1024:.1f} MB)")
            expected = sink_count(servers)
            for r in range(1, a.repeat + 1):
                paths = write_messages(os.path.join(folder, f"in{r}"), templates,
                                       a.repeat_messages, run=r)
                mailservers.append_files(st, USER, paths)
                expected += a.repeat_messages
                t = time.monotonic()
                ok = wait_for_replies(servers, expected, proc, smp, a.timeout)
                took = time.monotonic() - t
                s = idle_rss()
                rss.append(s[1] if s else 0)
                log(f"service drain {r}: {a.repeat_messages} msgs {'in' if ok else 'NOT done in'} "
                    f"{took:.2f} s; idle VmRSS {rss[-1] / 1024:.1f} MB "
                    f"(anonymous {(s[2] if s else 0) / 1024:.1f} MB), VmHWM {smp.hwm / 1024:.1f} MB")
            figures += [
                ("idle RSS after the drain (service)", f"{rss[0] / 1024:.1f}", "MB", "<= 15"),
                (f"idle RSS after {a.repeat} more drains of {a.repeat_messages}",
                 f"{rss[-1] / 1024:.1f}",
                 "MB (" + " -> ".join(f"{v / 1024:.1f}" for v in rss) + ")", "no growth"),
                ("peak RSS in service mode (VmHWM)", f"{smp.hwm / 1024:.1f}", "MB", "<= 40"),
            ]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        if sink:
            sink.terminate()
            sink.wait(timeout=30)
        if st:
            stop_servers(st["dir"])
        if a.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    for name, value, unit, target in figures:
        print(f"figure\t{name}\t{value}\t{unit}\t{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
