#!/usr/bin/python3
"""Latency from a message's APPEND to its reply's arrival at the SMTP server, one message at a time.

Starts the loopback Dovecot + SMTP sink (tests/harness/mailservers.py, with bench_common's
counting sink, which stamps each reply with CLOCK_MONOTONIC when its DATA is complete) and
`supportd run` in service mode, where IMAP IDLE wakes the poller (poll_seconds is 3600, so no
poll hides IDLE). Once IDLE is up and the first cycle is over, N times: take the time, APPEND one
customer message (dev-corpus mail that gets a reply, unique Message-ID, a sender of its own)
over an IMAP connection that is already logged in, wait for the reply whose In-Reply-To names
it (the bench checks the sink every 2 ms, but the latency is the sink's own timestamp), then
wait a random 50-300 ms before the next.

Where the time goes, per message, on one clock (CLOCK_MONOTONIC):
  - APPEND command: until Dovecot's OK;
  - Dovecot's IDLE notify: until "* N EXISTS" goes out on the daemon's IDLE connection;
  - daemon wake: from there until the poller's first IMAP command of the cycle;
  - cycle to decision: until the daemon's `stage=record uid=N` log line (STATUS, UID SEARCH,
    dates, UID FETCH, classify, store);
  - decision to reply at the sink: compose, queue, SMTP.
The two wire times come from a packet socket on `lo` (kernel timestamps, BPF-filtered to the
test Dovecot's port; needs root or CAP_NET_RAW, otherwise the split is coarser). It only
listens, so unlike a second IDLE client it does not change Dovecot's timing. The daemon has no
log line per IDLE wake; its log lines are stamped as they arrive on its stderr pipe.

Prints a report, then "figure<TAB>name<TAB>value<TAB>unit<TAB>target" lines for scripts/bench.sh.
Percentiles are nearest-rank (p99 of 200 is the 198th smallest). Run with /usr/bin/python3.
"""

import argparse
import ctypes
import imaplib
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (  # noqa: E402
    USER, customer_message, line_clock, log, mailservers, message_id, proc_cpu_seconds,
    replace_sink, reply_templates, start_servers, stop_servers, write_config)

POLL = 0.002  # how often the sink folder is checked (the latency uses the sink's timestamp)


def percentile(values, p):
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


# --- Wire timestamps --------------------------------------------------------------------------

class imap_tap:
    """Every TCP segment with a payload to or from one port on `lo`, kernel-timestamped:
    packets = [(monotonic, client_port, from_server, first bytes of the payload)]."""

    ETH_P_IP = 0x0800
    SO_ATTACH_FILTER = 26
    SO_TIMESTAMPNS = 35
    PACKET_OUTGOING = 4

    def __init__(self, port):
        self.port = port
        self.packets = []
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(self.ETH_P_IP))
        self.sock.bind(("lo", self.ETH_P_IP))
        # Classic BPF: IPv4 TCP with source or destination port == port (so a busy loopback
        # costs this process nothing).
        prog = [(0x30, 0, 0, 9),         # ldb [9]            IP protocol
                (0x15, 0, 6, 6),         # jeq #6 (TCP)       else drop
                (0xb1, 0, 0, 0),         # ldxb 4*([0]&0xf)   IP header length
                (0x48, 0, 0, 0),         # ldh [x+0]          source port
                (0x15, 2, 0, port),      # jeq port           accept
                (0x48, 0, 0, 2),         # ldh [x+2]          destination port
                (0x15, 0, 1, port),      # jeq port           accept, else drop
                (0x06, 0, 0, 0x40000),   # accept
                (0x06, 0, 0, 0)]         # drop
        self._filter = ctypes.create_string_buffer(
            b"".join(struct.pack("HBBI", *ins) for ins in prog))
        fprog = struct.pack("HP", len(prog), ctypes.addressof(self._filter))
        self.sock.setsockopt(socket.SOL_SOCKET, self.SO_ATTACH_FILTER, fprog)
        self.sock.setsockopt(socket.SOL_SOCKET, self.SO_TIMESTAMPNS, 1)
        self.offset = time.time() - time.monotonic()  # realtime kernel stamps -> monotonic
        self.stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        self.sock.settimeout(0.5)
        while not self.stop:
            try:
                data, anc, _, addr = self.sock.recvmsg(4096, 64)
            except socket.timeout:
                continue
            except OSError:
                return
            if addr[2] == self.PACKET_OUTGOING:  # loopback shows every packet twice
                continue
            t = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == self.SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    t = sec + nsec / 1e9 - self.offset
            if t is None:
                t = time.monotonic()
            ihl = (data[0] & 0x0F) * 4
            if len(data) < ihl + 20 or data[9] != 6:
                continue
            sport, dport = struct.unpack("!HH", data[ihl:ihl + 4])
            payload = data[ihl + ((data[ihl + 12] >> 4) * 4):]
            if not payload or self.port not in (sport, dport):
                continue
            from_server = sport == self.port
            self.packets.append((t, dport if from_server else sport, from_server, payload[:512]))

    def close(self):
        self.stop = True
        self.thread.join(timeout=2)
        self.sock.close()

    def events(self, exclude_ports):
        """(EXISTS by message count on the daemon's IDLE connection, the start times of the
        other connections' command bursts: the first client packet after a server packet)."""
        idle_ports = {p for _, p, srv, data in self.packets
                      if not srv and re.search(rb"^\S+ IDLE\r\n", data, re.M)}
        exists, commands, last_from_server = {}, [], {}
        for t, p, srv, data in self.packets:
            if p in idle_ports:
                if srv:
                    for m in re.finditer(rb"^\* (\d+) EXISTS", data, re.M):
                        exists.setdefault(int(m.group(1)), t)
            elif p not in exclude_ports:
                if not srv and last_from_server.get(p, True):
                    commands.append((t, data.split(b"\r\n", 1)[0]))
                last_from_server[p] = srv
        return exists, commands


# --- The run ----------------------------------------------------------------------------------

class sink_reader:
    """Reads the sink's NNNNNN.json files in order, as they appear."""

    def __init__(self, folder):
        self.sd = os.path.join(folder, "smtp")
        self.next = 1
        self.by_parent = {}  # In-Reply-To -> [metadata, ...]

    def scan(self):
        while True:
            try:
                with open(os.path.join(self.sd, f"{self.next:06d}.json")) as f:
                    meta = json.load(f)
            except FileNotFoundError:
                return
            self.by_parent.setdefault(meta.get("in_reply_to"), []).append(meta)
            self.next += 1

    def wait_for(self, parent, deadline):
        while True:
            self.scan()
            if parent in self.by_parent:
                return self.by_parent[parent][0]
            if time.monotonic() > deadline:
                return None
            time.sleep(POLL)


def wait_for_line(clock, needle, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(needle in line for _, line in clock.lines):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def append(conn, raw):
    typ, data = conn.append("INBOX", None, None, raw)
    if typ != "OK":
        raise RuntimeError(f"APPEND failed: {typ} {data!r}")
    m = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0] or b"")
    return int(m.group(1)) if m else None


def daemon_events(lines):
    """From the daemon's stamped log: decision time by UID, sent time by reply Message-ID,
    and the cycle summary lines."""
    record, sent, cycles = {}, {}, []
    for t, line in lines:
        m = re.search(r"stage=record uid=(\d+)", line)
        if m:
            record.setdefault(int(m.group(1)), t)
            continue
        m = re.search(r"stage=send message_id=<?([^> ]+)>? outcome=sent", line)
        if m:
            sent.setdefault(m.group(1), t)
            continue
        if "stage=cycle " in line:
            cycles.append((t, line.strip()))
    return record, sent, cycles


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--supportd", required=True, help="the supportd binary")
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--gap-ms", default="50-300", help="random wait after each reply, ms (LO-HI)")
    ap.add_argument("--seed", type=int, default=1, help="seed for the gaps and message choice")
    ap.add_argument("--timeout", type=float, default=30, help="seconds to wait for one reply")
    ap.add_argument("--log-level", default="info", help="[log] level for the daemon")
    ap.add_argument("--no-tap", action="store_true", help="no packet socket (no wire times)")
    ap.add_argument("--keep", action="store_true", help="keep the folder (service.log, sink)")
    ap.add_argument("--wrap", default="", help="command prefix for the daemon, e.g. "
                    "'strace -f -tt -o /tmp/latency.strace' (figures are then not comparable)")
    ap.add_argument("--csv", help="write one line per message with every timestamp here")
    a = ap.parse_args()
    a.supportd = os.path.abspath(a.supportd)  # the daemon runs in the servers folder
    gap_lo, gap_hi = (float(x) / 1000 for x in a.gap_ms.split("-"))
    rng = random.Random(a.seed)

    folder = tempfile.mkdtemp(prefix="supportd-latency-")
    os.chmod(folder, 0o755)
    st = sink = proc = clock = tap = conn = None
    rows, missing = [], []
    try:
        templates, what = reply_templates(a.supportd)
        log(f"messages: {a.messages}, one at a time, from {what}; gap {a.gap_ms} ms after each "
            f"reply; load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
        st = start_servers(os.path.join(folder, "servers"))
        servers = st["dir"]
        sink = replace_sink(st)
        if not a.no_tap:
            try:
                tap = imap_tap(st["imap_port"])
            except OSError as e:
                log(f"note: no packet socket on lo ({e}): no wire times, a coarser split")
        cfg = write_config(servers, st, batch_size=50, poll_seconds=3600, log_level=a.log_level)
        os.makedirs(os.path.join(servers, "state"), exist_ok=True)
        proc = subprocess.Popen([*a.wrap.split(), a.supportd, "run", "--config", cfg],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=servers,
                                text=True, errors="replace")
        clock = line_clock(proc.stdout, os.path.join(servers, "service.log"))
        if not wait_for_line(clock, "stage=idle outcome=watching", proc, 60):
            raise RuntimeError(f"the daemon's IDLE is not up (see {servers}/service.log)")
        time.sleep(1.0)  # the first (empty) cycle runs right at start-up
        conn = mailservers.imap_login(st, USER)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        bench_port = conn.sock.getsockname()[1]
        reader = sink_reader(servers)
        cpu0 = proc_cpu_seconds(proc.pid) or 0.0
        run = f"lat{os.getpid()}"
        bench_t0 = time.monotonic()
        for i in range(a.messages):
            raw = customer_message(templates[rng.randrange(len(templates))], i, run)
            mid = message_id(i, run)
            t0 = time.monotonic()
            uid = append(conn, raw)
            t_appended = time.monotonic()
            meta = reader.wait_for(mid, time.monotonic() + a.timeout)
            if meta is None:
                missing.append(i)
                log(f"WARNING: no reply to message {i} (UID {uid}) within {a.timeout:.0f} s")
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited ({proc.returncode})")
                continue
            rows.append({"i": i, "uid": uid, "t0": t0, "appended": t_appended,
                         "received": meta["received"], "reply_id": meta.get("message_id")})
            time.sleep(rng.uniform(gap_lo, gap_hi))
        elapsed = time.monotonic() - bench_t0
        time.sleep(2.0)  # a second reply to any message would arrive by now
        reader.scan()
        cpu = (proc_cpu_seconds(proc.pid) or 0.0) - cpu0
        loadavg = " ".join(open("/proc/loadavg").read().split()[:3])
    finally:
        if conn:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        if tap:
            tap.close()
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if sink:
            sink.terminate()
            sink.wait(timeout=30)
        if st:
            stop_servers(st["dir"])
        if clock:
            clock.thread.join(timeout=10)
        if a.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    # --- Where the time went ---
    record, sent, cycles = daemon_events(clock.lines)
    exists, commands = tap.events({bench_port}) if tap else ({}, [])
    command_times = [t for t, _ in commands]
    ms = lambda x: 1000 * x  # noqa: E731
    for k, r in enumerate(rows):
        r["record"] = record.get(r["uid"])
        r["sent"] = sent.get(r["reply_id"])
        # Messages are appended one by one to an empty mailbox: message i makes it i + 1 big.
        r["exists"] = exists.get(r["i"] + 1)
        r["cycle"] = None
        if r["exists"] is not None:
            r["cycle"] = next((t for t in command_times if t >= r["exists"]), None)
        r["latency"] = ms(r["received"] - r["t0"])
        r["append_cmd"] = ms(r["appended"] - r["t0"])
        r["notify"] = ms(r["exists"] - r["t0"]) if r["exists"] else None
        r["wake"] = ms(r["cycle"] - r["exists"]) if r["cycle"] and r["exists"] else None
        start = r["cycle"] or r["t0"]
        r["to_record"] = ms(r["record"] - start) if r["record"] else None
        r["deliver"] = ms(r["received"] - r["record"]) if r["record"] else None
        r["daemon"] = ms(r["received"] - r["exists"]) if r["exists"] else None

    replies = sum(len(v) for v in reader.by_parent.values())
    ours = {message_id(i, run) for i in range(a.messages)}
    answered = sum(1 for k in reader.by_parent if k in ours)
    twice = sum(1 for k, v in reader.by_parent.items() if len(v) > 1)
    stray = sum(len(v) for k, v in reader.by_parent.items() if k not in ours)
    lat = [r["latency"] for r in rows]

    log(f"\n{len(rows)} of {a.messages} messages answered in {elapsed:.1f} s; "
        f"replies at the sink: {replies} ({answered} distinct messages answered, {twice} "
        f"answered more than once, {stray} replies to something else); daemon CPU {cpu:.2f} s "
        f"({1000 * cpu / max(len(rows), 1):.1f} ms/msg); load average after: {loadavg}")
    if missing:
        log(f"WARNING: no reply to messages {missing}")
    if not lat:
        return 1
    stats = lambda v: (percentile(v, 50), percentile(v, 90), percentile(v, 99), max(v),  # noqa
                       sum(v) / len(v), min(v))
    p50, p90, p99, mx, mean, mn = stats(lat)
    log(f"APPEND -> reply at the SMTP sink (ms): p50 {p50:.0f}  p90 {p90:.0f}  p99 {p99:.0f}  "
        f"max {mx:.0f}  mean {mean:.0f}  min {mn:.0f}")
    log(f"first message {rows[0]['latency']:.0f} ms; slowest: " + ", ".join(
        f"#{r['i']} {r['latency']:.0f}" for r in sorted(rows, key=lambda r: -r["latency"])[:5]))
    log("where the time goes (ms)                               p50    p90    p99    max   mean"
        "    min")
    parts = [("append_cmd", "APPEND command (until Dovecot's OK)"),
             ("notify", "APPEND -> EXISTS sent to the daemon's IDLE"),
             ("wake", "EXISTS -> the poller's first IMAP command"),
             ("to_record", "that command -> stage=record (fetch, decide)" if tap
              else "APPEND -> stage=record"),
             ("deliver", "stage=record -> reply at the sink"),
             ("latency", "total"),
             ("daemon", "the daemon's share: EXISTS -> reply at the sink")]
    for key, name in parts:
        v = [r[key] for r in rows if r[key] is not None]
        if v:
            s = stats(v)
            log(f"  {name:51s} {s[0]:6.0f} {s[1]:6.0f} {s[2]:6.0f} {s[3]:6.0f} {s[4]:6.0f} "
                f"{s[5]:6.0f}" + ("" if len(v) == len(rows) else f"  ({len(v)} of {len(rows)})"))
    if exists:
        # Dovecot arms its 0.5 s notify timer (NOTIFY_DELAY_MSECS in lib-storage/mailbox-watch.c)
        # at the first change it sees and does not re-arm it until it fires; the daemon's UID
        # STORE of the previous message's flags is such a change, so a message APPENDed while
        # that timer runs is announced sooner than 0.5 s after its APPEND.
        ends = [t for t, _ in cycles]
        early = [r for r in rows if r["notify"] is not None and r["notify"] < 450]
        since = [ms(r["exists"] - max(e for e in ends if e < r["t0"]))
                 for r in early if any(e < r["t0"] for e in ends)]
        log(f"EXISTS sooner than 450 ms after APPEND: {len(early)} of {len(rows)} messages"
            + (f"; for them, EXISTS came p50 {percentile(since, 50):.0f} ms (min "
               f"{min(since):.0f}, max {max(since):.0f}) after the previous cycle's log line "
               "(after its flag update)" if since else ""))
        cmds = {}
        for r in rows:
            if r["cycle"] is not None:
                name = next(c for t, c in commands if t == r["cycle"])
                name = re.sub(rb"^\S+ ", b"", name)[:40].decode("ascii", "replace")
                cmds[name] = cmds.get(name, 0) + 1
        log("the poller's first command after EXISTS: " +
            ", ".join(f"{c!r} x{n}" for c, n in sorted(cmds.items(), key=lambda x: -x[1])))
    multi = [c for _, c in cycles if not re.search(r"fetched=1 processed=1 sent=1 ", c)]
    log(f"daemon cycles that did work: {len(cycles)}; not exactly one message each: {len(multi)}"
        + (f" (e.g. {multi[0]})" if multi else ""))
    if a.csv:
        with open(a.csv, "w") as f:
            keys = ["i", "uid", "latency", "append_cmd", "notify", "wake", "to_record", "deliver",
                    "daemon", "t0", "appended", "exists", "cycle", "record", "sent", "received"]
            f.write(",".join(keys) + "\n")
            for r in rows:
                f.write(",".join("" if r[k] is None else f"{r[k]}" for k in keys) + "\n")
    n = a.messages
    print(f"figure\tlatency APPEND -> reply, p50 ({n} msgs, IDLE)\t{p50:.0f}\tms\t")
    print(f"figure\tlatency APPEND -> reply, p99 ({n} msgs, IDLE)\t{p99:.0f}\t"
          f"ms (p90 {p90:.0f}, max {mx:.0f}, mean {mean:.0f})\t< 1000")
    print(f"figure\tlatency run: replies (each message once)\t{replies}\t"
          f"of {n} messages ({twice} twice)\t{n}")
    return 0 if len(rows) == n and replies == n and twice == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
