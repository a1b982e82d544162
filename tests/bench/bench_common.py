#!/usr/bin/python3
"""Helpers shared by the mail benchmarks (drain.py, latency.py) on the loopback Dovecot + SMTP
sink harness (tests/harness/mailservers.py): customer messages that get a reply, the servers with
a counting sink that stamps each arrival, the daemon's config, process sampling and a clock for
the daemon's log lines.

Run as a script only by replace_sink() (`bench_common.py --sink-serve DIR PORT`). Use Debian's
/usr/bin/python3 (it has python3-aiosmtpd for the sink).
"""

import email.utils
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
HARNESS = os.path.join(SOURCE, "tests", "harness", "mailservers.py")
DEV = os.path.abspath(os.path.join(SOURCE, "..", "shared", "corpus", "dev"))
USER = "support@okpay-wallet.example"

_spec = importlib.util.spec_from_file_location("mailservers", HARNESS)
mailservers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mailservers)


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


def message_id(i, run):
    return f"bench.{run}.{i}@mail.example.com"


def customer_message(template, i, run):
    """The template's subject, MIME headers and body, from a sender of its own."""
    head, body = split_message(template)
    addr = f"customer{run}.{i}@example.com"
    lines = [f"Return-Path: <{addr}>".encode(),
             f"From: Customer {i} <{addr}>".encode(),
             f"Message-ID: <{message_id(i, run)}>".encode(),
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


# --- Servers, the counting sink, config -----------------------------------------------------

def start_servers(folder):
    out = subprocess.run(["/usr/bin/python3", HARNESS, "start", "--dir", folder, "--no-tls",
                          "--owner-pid", str(os.getpid())],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


HEADER_RE = {name: re.compile(rb"^" + name + rb":[ \t]*<?([^>\r\n]*)>?", re.I | re.M)
             for name in (b"In-Reply-To", b"Message-ID")}


def header_id(head, name):
    m = HEADER_RE[name].search(head)
    return m.group(1).decode("ascii", "replace").strip() if m else None


class counting_sink(mailservers.SinkHandler):
    """The harness's sink, which also keeps `count` current (waiting costs no folder listing)
    and adds to each NNNNNN.json `received` (time.monotonic(), CLOCK_MONOTONIC, comparable
    across processes on this machine, taken when the DATA is complete, before any file is
    written), `received_unix`, and the reply's `in_reply_to` and `message_id` (without angle
    brackets)."""

    def record(self, session, envelope, data, received):
        head = data.split(b"\r\n\r\n", 1)[0]
        out = super().record(session, envelope, data, received)
        out.update({"received": received[0], "received_unix": received[1],
                    "in_reply_to": header_id(head, b"In-Reply-To"),
                    "message_id": header_id(head, b"Message-ID")})
        return out

    def stored(self, n):
        with open(os.path.join(self.sd, "count.tmp"), "w") as f:
            f.write(str(n))
        os.replace(os.path.join(self.sd, "count.tmp"), os.path.join(self.sd, "count"))


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


def write_config(folder, st, batch_size, poll_seconds, log_level="info", smtp_connections=1):
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
connections = {smtp_connections}
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
level = "{log_level}"
""")
    return cfg


def sink_count(folder):
    try:
        with open(os.path.join(folder, "smtp", "count")) as f:
            return int(f.read() or 0)
    except (FileNotFoundError, ValueError):
        return 0


# --- Processes and logs ---------------------------------------------------------------------

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
    """Reads a child's log lines as they come and stamps each with the time it arrived
    (time.monotonic(); the daemon writes unbuffered stderr into the pipe)."""

    def __init__(self, stream, path):
        self.lines = []
        self.thread = threading.Thread(target=self._read, args=(stream, path), daemon=True)
        self.thread.start()

    def _read(self, stream, path):
        with open(path, "w") as out:
            for line in stream:
                self.lines.append((time.monotonic(), line))
                out.write(line)
                out.flush()

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


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--sink-serve":
        serve_sink(sys.argv[2], int(sys.argv[3]))
        sys.exit(0)
    sys.exit("usage: bench_common.py --sink-serve DIR PORT (started by replace_sink)")
