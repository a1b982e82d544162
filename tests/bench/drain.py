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
import email.utils
import imaplib
import importlib.util
import json
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
HARNESS = os.path.join(SOURCE, "tests", "harness", "mailservers.py")
DEV = os.path.abspath(os.path.join(SOURCE, "..", "shared", "corpus", "dev"))
USER = "support@okpay-wallet.example"

spec = importlib.util.spec_from_file_location("mailservers", HARNESS)
mailservers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mailservers)


def log(*a):
    print(*a, flush=True)


# --- Messages -------------------------------------------------------------------------------

DROP = {"message-id", "from", "return-path", "in-reply-to", "references", "date", "reply-to",
        "sender", "received"}


def split_message(raw):
    raw = re.sub(rb"\r?\n", b"\r\n", raw)
    head, sep, body = raw.partition(b"\r\n\r\n")
    return head, body if sep else b""


def header_lines_without(head, drop):
    """Header lines (with their folded continuations) whose field name is not in `drop`."""
    out, keep = [], True
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        keep = name not in drop
        if keep:
            out.append(line)
    return out


def customer_message(template, i, run):
    """The template's subject, MIME headers and body, from a sender of its own."""
    head, body = split_message(template)
    addr = f"customer{run}.{i}@example.com"
    lines = [f"Return-Path: <{addr}>".encode(),
             f"From: Customer {i} <{addr}>".encode(),
             f"Message-ID: <bench.{run}.{i}@mail.example.com>".encode(),
             f"Date: {email.utils.formatdate(localtime=True)}".encode()]
    lines += header_lines_without(head, DROP)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


GENERATED = [
    ("Withdrawal not arrived", "Hello, I withdrew 200 USD to my bank account three days ago "
     "and the money has not arrived yet. Order 4711. Please check."),
    ("Payment failed", "My card payment failed twice today when I tried to pay a merchant. "
     "Why was the payment declined?"),
    ("How do I change my phone number", "Hi, I have a new phone number and want to update it "
     "in my account settings. How can I do that?"),
]


def generated_template(k):
    subject, text = GENERATED[k % len(GENERATED)]
    return (f"To: OKPay Support <{USER}>\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{text}\r\n").encode()


def reply_templates(supportd):
    """Dev-corpus messages that get an auto-reply when they arrive from a new customer."""
    if not os.path.isdir(DEV):
        log(f"note: {DEV} absent, using generated messages")
        return [generated_template(k) for k in range(len(GENERATED))], "generated"
    files = sorted(os.path.join(DEV, f) for f in os.listdir(DEV) if f.endswith(".eml"))
    out = subprocess.run([supportd, "classify", "--json", *files], capture_output=True,
                         text=True, check=False).stdout
    verdicts = {json.loads(line)["file"]: json.loads(line)["reply"]
                for line in out.splitlines() if line.startswith("{")}
    chosen = [f for f in files if verdicts.get(f)]
    templates = []
    for f in chosen:
        with open(f, "rb") as fh:
            templates.append(fh.read())
    return templates, f"{len(chosen)} dev-corpus messages that get a reply"


def write_messages(folder, templates, count, run, start=0):
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        p = os.path.join(folder, f"{run}-{i:06d}.eml")
        with open(p, "wb") as f:
            f.write(customer_message(templates[i % len(templates)], i, run))
        paths.append(p)
    return paths


# --- Servers, config, process sampling ----------------------------------------------------------

def start_servers(folder):
    out = subprocess.run(["/usr/bin/python3", HARNESS, "start", "--dir", folder, "--no-tls",
                          "--owner-pid", str(os.getpid())],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


class counting_sink(mailservers.SinkHandler):
    """The harness's sink, numbering files with a counter. The harness's own handler lists its
    folder for every message to find the next number, which makes a 10,000-message drain
    quadratic (~15 ms per message once 20,000 files are there) and would be charged to both
    supportd and the floor. It also keeps `count` current, so waiting costs no listing."""

    def __init__(self, sd):
        super().__init__(sd)
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.sd, f"{self.n:06d}")
        data = envelope.original_content
        if data is None:
            data = envelope.content if isinstance(envelope.content, bytes) else b""
        with open(base + ".eml", "wb") as f:
            f.write(data)
        mailservers.write_json(base + ".json", {
            "mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
            "eml": os.path.basename(base + ".eml"),
            "peer": f"{session.peer[0]}:{session.peer[1]}" if session.peer else None})
        with open(os.path.join(self.sd, "count.tmp"), "w") as f:
            f.write(str(self.n))
        os.replace(os.path.join(self.sd, "count.tmp"), os.path.join(self.sd, "count"))
        return f"250 OK queued as {self.n:06d}"


def serve_sink(folder, port):
    mailservers.SinkHandler = counting_sink
    mailservers.smtp_serve(folder, port)


def replace_sink(st):
    """Stops the harness's sink and serves counting_sink on the same port."""
    folder = st["dir"]
    subprocess.run(["/usr/bin/python3", HARNESS, "stop-smtp", "--dir", folder],
                   capture_output=True, check=True)
    proc = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__), "--sink-serve",
                             folder, str(st["smtp_port"])],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mailservers.wait_greeting(st["smtp_port"], b"220", time.monotonic() + 30, proc.pid)
    return proc


def stop_servers(folder):
    subprocess.run(["/usr/bin/python3", HARNESS, "stop", "--dir", folder],
                   capture_output=True, check=False)


def write_config(folder, st, batch_size, poll_seconds):
    with open(os.path.join(folder, "imap.secret"), "w") as f:
        f.write("test\n")
    cfg = os.path.join(folder, "supportd.toml")
    with open(cfg, "w") as f:
        f.write(f"""[imap]
url = "imap://127.0.0.1:{st['imap_port']}/INBOX"
user = "{USER}"
password_file = "imap.secret"
poll_seconds = {poll_seconds}
batch_size = {batch_size}
[smtp]
url = "smtp://127.0.0.1:{st['smtp_port']}"
[reply]
from = "OKPay Support <{USER}>"
addresses = ["{USER}"]
# A backlog is the point here: no global send cap, and every sender is a new customer.
max_per_minute = 1000000
[store]
path = "state/supportd.db"
[classifier]
rules = "{SOURCE}/config/categories.toml"
[templates]
dir = "{SOURCE}/templates"
[log]
level = "info"
""")
    return cfg


def sink_count(folder):
    try:
        with open(os.path.join(folder, "smtp", "count")) as f:
            return int(f.read() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def proc_status(pid):
    """(VmHWM, VmRSS, RssAnon, RssFile) in kB, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    vals = dict(re.findall(r"^(VmHWM|VmRSS|RssAnon|RssFile):\s+(\d+) kB", text, re.M))
    if "VmHWM" not in vals:
        return None
    return (int(vals["VmHWM"]), int(vals["VmRSS"]), int(vals.get("RssAnon", 0)),
            int(vals.get("RssFile", 0)))


def proc_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class sampler:
    """Follows a child: last VmHWM/VmRSS and CPU time seen before it exits."""

    def __init__(self, proc):
        self.proc, self.hwm, self.rss, self.cpu = proc, 0, 0, 0.0

    def sample(self):
        s = proc_status(self.proc.pid)
        c = proc_cpu_seconds(self.proc.pid)
        if s:
            self.hwm, self.rss = max(self.hwm, s[0]), s[1]
        if c is not None and self.proc.poll() is None:
            self.cpu = c
        return s


class line_clock:
    """Reads a child's log lines as they come and stamps each with the time it arrived."""

    def __init__(self, stream, path):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(stream, path), daemon=True)
        self.thread.start()

    def _read(self, stream, path):
        with open(path, "w") as out:
            for line in stream:
                self.lines.append((time.monotonic(), line))
                out.write(line)

    def phases(self, start):
        """Wall time by what the daemon was doing, from the gaps between its log lines: the gap
        before a `stage=record` line is that message's UID FETCH and decision (and after a send
        run, the flagging of the batch and the next batch's set-up); before `stage=send`, one
        SMTP transaction and its ledger update."""
        self.thread.join(timeout=10)
        out = {"fetch + decide (per message)": 0.0, "send (per reply)": 0.0,
               "flag batch + next batch set-up": 0.0, "start-up, first cycle set-up": 0.0,
               "after the last reply (flags, exit)": 0.0}
        prev_t, prev_kind = start, None
        for t, line in self.lines:
            kind = "record" if "stage=record" in line else "send" if "stage=send" in line else None
            if kind is None:
                continue
            gap = t - prev_t
            if prev_kind is None:
                out["start-up, first cycle set-up"] += gap
            elif kind == "send":
                out["send (per reply)"] += gap
            elif prev_kind == "send":
                out["flag batch + next batch set-up"] += gap
            else:
                out["fetch + decide (per message)"] += gap
            prev_t, prev_kind = t, kind
        return out, prev_t


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
    if len(sys.argv) == 4 and sys.argv[1] == "--sink-serve":
        serve_sink(sys.argv[2], int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--supportd", required=True, help="the supportd binary")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--batch-size", type=int, default=50, help="[imap] batch_size")
    ap.add_argument("--repeat", type=int, default=3, help="drains in service mode")
    ap.add_argument("--repeat-messages", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--keep", action="store_true", help="keep the folder")
    ap.add_argument("--wrap", default="", help="command prefix for the --once run, e.g. "
                    "'strace -f -c -w -o /tmp/drain.strace' (figures are then not comparable)")
    ap.add_argument("--once-only", action="store_true", help="skip the floor and service runs")
    a = ap.parse_args()

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
        cfg = write_config(servers, st, a.batch_size, poll_seconds=1)
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
