#!/usr/bin/python3
"""Real mail servers on loopback for supportd's integration tests.

Starts Dovecot (IMAP, optionally IMAPS) with a generated config and an aiosmtpd sink (SMTP)
inside one folder, so tests need no system configuration and leave nothing behind.
Works as root (mail owned by uid/gid 65534) and unprivileged (everything owned by the caller).
See README.md next to this file for the interface.
"""

import argparse
import asyncio
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

DOVECOT = "/usr/sbin/dovecot"
DEFAULT_USERS = [("support@okpay-wallet.example", "test"), ("other@okpay-wallet.example", "test")]
NOBODY = 65534
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


# ---------------------------------------------------------------------------- helpers

def free_port():
    """A currently free loopback TCP port (the server binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def state_path(d):
    return os.path.join(d, "servers.json")


def load_state(d):
    try:
        return read_json(state_path(d))
    except FileNotFoundError:
        sys.exit(f"mailservers: no servers.json in {d} (not started?)")


def alive(pid):
    """True while pid runs (a zombie counts as gone: nobody may reap a re-parented child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_greeting(port, prefix, deadline, pid):
    """Waits until the server on port sends a greeting starting with prefix."""
    last = None
    while time.monotonic() < deadline:
        if pid is not None and not alive(pid):
            raise RuntimeError(f"server (pid {pid}) exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                data = s.recv(512)
                if data.startswith(prefix):
                    return
                last = data
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError(f"no greeting on port {port}: {last!r}")


def stop_pid(pid):
    """SIGTERM the process group, SIGKILL after STOP_TIMEOUT; waits until gone."""
    if not pid or not alive(pid):
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.02)


def spawn(argv, log_path):
    """Starts a server detached in its own session (survives this script, killable as a group)."""
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True).pid
    finally:
        log.close()


# ---------------------------------------------------------------------------- dovecot

def dovecot_paths(d):
    base = os.path.join(d, "dovecot")
    return {
        "base": base,
        "conf": os.path.join(base, "dovecot.conf"),
        "users": os.path.join(base, "users"),
        "run": os.path.join(base, "run"),
        "state": os.path.join(base, "state"),
        "log": os.path.join(base, "dovecot.log"),
        "cert": os.path.join(base, "cert.pem"),
        "key": os.path.join(base, "key.pem"),
        "mail": os.path.join(d, "mail"),
    }


def make_cert(p):
    """A self-signed certificate for the IMAPS listener, or False without openssl."""
    openssl = shutil.which("openssl")
    if not openssl:
        return False
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "30",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", p["key"], "-out", p["cert"]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return r.returncode == 0


def write_dovecot_config(d, users, imap_port, imaps_port):
    p = dovecot_paths(d)
    for sub in (p["base"], p["run"], p["state"], p["mail"]):
        os.makedirs(sub, exist_ok=True)
    root = os.geteuid() == 0
    if root:
        # Dovecot drops to these for login/auth/mail processes: they must reach the folder.
        uid = gid = NOBODY
        login_user = internal_user = "nobody"
        os.chown(p["mail"], NOBODY, NOBODY)
    else:
        # Unprivileged: every process keeps the caller's identity.
        uid, gid = os.getuid(), os.getgid()
        import pwd
        login_user = internal_user = pwd.getpwuid(uid).pw_name
    for path in (d, p["base"]):
        os.chmod(path, 0o755)
    with open(p["users"], "w", encoding="utf-8") as f:
        for name, password in users:
            home = os.path.join(p["mail"], name)
            f.write(f"{name}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
    os.chmod(p["users"], 0o644)
    tls = imaps_port is not None and make_cert(p)
    # chroot() needs root; unprivileged login processes stay in the normal file system.
    login_chroot = "" if root else "  chroot =\n"
    imaps_listener = (f"  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps_port}\n"
                      f"    ssl = yes\n  }}\n") if tls else "  inet_listener imaps {\n    port = 0\n  }\n"
    ssl_lines = (f"ssl = yes\nssl_cert = <{p['cert']}\nssl_key = <{p['key']}\n" if tls else "ssl = no\n")
    conf = f"""# Generated by tests/harness/mailservers.py
base_dir = {p['run']}
state_dir = {p['state']}
instance_name = supportd-test-{imap_port}
log_path = {p['log']}
protocols = imap
listen = 127.0.0.1
{ssl_lines}disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
first_valid_gid = 0
mail_location = maildir:{p['mail']}/%u
mail_fsync = never
mail_privileged_group =
login_greeting = Dovecot ready.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {p['users']}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {p['users']}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
{imaps_listener}{login_chroot}}}
service anvil {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""
    with open(p["conf"], "w", encoding="utf-8") as f:
        f.write(conf)
    return p, tls


def start_imap(d, st):
    p = dovecot_paths(d)
    pid = spawn([DOVECOT, "-F", "-c", p["conf"]], os.path.join(p["base"], "stderr.log"))
    st["pids"]["imap"] = pid  # recorded first, so a failed start is still cleaned up
    deadline = time.monotonic() + START_TIMEOUT
    wait_greeting(st["imap_port"], b"* OK", deadline, pid)
    if st.get("imaps_port"):
        wait_until_listening(st["imaps_port"], deadline, pid)
    st["pids"]["imap"] = pid


def wait_until_listening(port, deadline, pid):
    while time.monotonic() < deadline:
        if not alive(pid):
            raise RuntimeError(f"server (pid {pid}) exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# ---------------------------------------------------------------------------- smtp sink

def smtp_dir(d):
    return os.path.join(d, "smtp")


def start_smtp(d, st):
    sd = smtp_dir(d)
    os.makedirs(sd, exist_ok=True)
    pid = spawn([sys.executable, os.path.abspath(__file__), "smtp-serve", "--dir", d,
                 "--port", str(st["smtp_port"])], os.path.join(d, "smtp-sink.log"))
    st["pids"]["smtp"] = pid
    wait_greeting(st["smtp_port"], b"220", time.monotonic() + START_TIMEOUT, pid)
    st["pids"]["smtp"] = pid


def reject_rule(sd):
    """(code, stage) from <smtp>/reject ("451" or "550 rcpt"), or None."""
    try:
        with open(os.path.join(sd, "reject"), encoding="ascii") as f:
            parts = f.read().split()
    except FileNotFoundError:
        return None
    if not parts or not parts[0].isdigit():
        return None
    stage = parts[1].lower() if len(parts) > 1 else "data"
    return int(parts[0]), stage


def reply_for(code):
    return f"{code} {'4.3.0 Try again later' if code < 500 else '5.7.1 Rejected by test sink'}"


class SinkHandler:
    """Stores each accepted message as NNNNNN.eml + NNNNNN.json (the JSON appears last)."""

    def __init__(self, sd):
        self.sd = sd
        # Numbering continues after a restart of the sink; kept in memory, so storing a message
        # costs the same with 10 or 10,000 already there (handle_DATA never awaits, so it is atomic).
        numbers = [int(name[:-5]) for name in os.listdir(sd)
                   if name.endswith(".json") and name[:-5].isdigit()]
        self.count = max(numbers, default=0)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        rule = reject_rule(self.sd)
        if rule and rule[1] == "mail":
            return reply_for(rule[0])
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "reject550" in address.lower():
            return "550 5.1.1 No such user (test sink)"
        if "reject451" in address.lower():
            return "451 4.3.0 Try again later (test sink)"
        rule = reject_rule(self.sd)
        if rule and rule[1] == "rcpt":
            return reply_for(rule[0])
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rule = reject_rule(self.sd)
        if rule and rule[1] == "data":
            return reply_for(rule[0])
        received = (time.monotonic(), time.time())
        self.count += 1
        n = self.count
        base = os.path.join(self.sd, f"{n:06d}")
        data = envelope.original_content
        if data is None:
            data = envelope.content if isinstance(envelope.content, bytes) else b""
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        os.replace(base + ".eml.tmp", base + ".eml")
        record = self.record(session, envelope, data, received)
        record["eml"] = os.path.basename(base + ".eml")
        write_json(base + ".json", record)
        self.stored(n)
        return "250 OK queued as " + f"{n:06d}"

    def record(self, session, envelope, data, received):
        """What NNNNNN.json says about a message; `received` is (monotonic, unix) time at the
        end of DATA. Subclasses add to it."""
        return {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "auth_user": (session.auth_data.login.decode("utf-8", "replace")
                          if session.authenticated and hasattr(session.auth_data, "login")
                          else None),
            # The client's address:port: equal for messages sent over one connection.
            "peer": f"{session.peer[0]}:{session.peer[1]}" if session.peer else None,
        }

    def stored(self, n):
        """Called once message n is on disk (its JSON last)."""


def smtp_authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    # Any credentials pass except a password starting with "wrong" (lets tests see 535).
    ok = not auth_data.password.startswith(b"wrong")
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


def smtp_serve(d, port):
    from aiosmtpd.smtp import SMTP
    sd = smtp_dir(d)
    os.makedirs(sd, exist_ok=True)
    handler = SinkHandler(sd)

    async def main():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.test", auth_require_tls=False,
                         authenticator=smtp_authenticator, enable_SMTPUTF8=True,
                         decode_data=False, timeout=60),
            host="127.0.0.1", port=port, reuse_address=True)
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(main())


# ---------------------------------------------------------------------------- imap client side

def imap_login(st, user):
    password = dict(map(tuple, st["users"])).get(user)
    if password is None:
        sys.exit(f"mailservers: unknown user {user}")
    conn = imaplib.IMAP4("127.0.0.1", st["imap_port"], timeout=60)
    conn.login(user, password)
    return conn


def parse_uid_set(text):
    """"1:3,7" -> [1, 2, 3, 7] (RFC 4315 APPENDUID uid-set)."""
    uids = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        uids.extend(range(int(lo), int(hi or lo) + 1))
    return uids


def append_files(st, user, files, mailbox="INBOX"):
    """APPENDs files (LF normalised to CRLF) and returns their new UIDs, in order.

    One MULTIAPPEND (RFC 3502) command per batch with LITERAL+ (RFC 7888) literals: Dovecot
    stores a batch in one transaction, so 10,000 messages take seconds instead of a minute.
    """
    conn = imap_login(st, user)
    try:
        uids = []
        batch = 500
        for start in range(0, len(files), batch):
            chunk = files[start:start + batch]
            tag = f"M{start:07d}"
            out = bytearray(f"{tag} APPEND {mailbox}".encode())
            for path in chunk:
                with open(path, "rb") as f:
                    msg = re.sub(rb"\r?\n", b"\r\n", f.read())
                out += f" {{{len(msg)}+}}\r\n".encode() + msg
            out += b"\r\n"
            conn.sock.sendall(out)
            while True:
                line = conn._get_line()  # noqa: SLF001 - raw read of the tagged reply
                if line.startswith(tag.encode() + b" "):
                    break
            if not line.split(b" ", 2)[1] == b"OK":
                raise RuntimeError(f"APPEND failed: {line!r}")
            m = re.search(rb"\[APPENDUID \d+ ([0-9:,]+)\]", line)
            got = parse_uid_set(m.group(1).decode()) if m else [0] * len(chunk)
            if len(got) != len(chunk):
                raise RuntimeError(f"APPENDUID does not match the batch: {line!r}")
            uids.extend(got)
        return uids
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def fetch_flags(st, user, uid, mailbox="INBOX"):
    conn = imap_login(st, user)
    try:
        conn.select(mailbox, readonly=True)
        typ, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        if typ != "OK" or not data or data[0] is None:
            return None
        m = re.search(rb"FLAGS \(([^)]*)\)", data[0])
        return m.group(1).decode() if m else ""
    finally:
        conn.logout()


# ---------------------------------------------------------------------------- commands

def parse_users(specs):
    if not specs:
        return list(DEFAULT_USERS)
    users = []
    for s in specs:
        name, _, password = s.partition(":")
        users.append((name, password or "test"))
    return users


def cmd_start(a):
    d = os.path.abspath(a.dir)
    os.makedirs(d, exist_ok=True)
    if os.path.exists(state_path(d)):
        st = read_json(state_path(d))
        if any(alive(pid) for pid in st.get("pids", {}).values()):
            sys.exit(f"mailservers: already running in {d}")
    users = parse_users(a.user)
    last_error = None
    for _attempt in range(3):  # a free port can be taken between probing and binding
        st = {"dir": d, "imap_port": free_port(), "smtp_port": free_port(),
              "imaps_port": None if a.no_tls else free_port(), "pids": {},
              "users": [list(u) for u in users], "host": "127.0.0.1"}
        _, tls = write_dovecot_config(d, users, st["imap_port"], st["imaps_port"])
        if not tls:
            st["imaps_port"] = None
        try:
            start_imap(d, st)
            start_smtp(d, st)
            if a.owner_pid:
                st["pids"]["watch"] = spawn(
                    [sys.executable, os.path.abspath(__file__), "watch", "--dir", d,
                     "--owner-pid", str(a.owner_pid)], os.path.join(d, "watch.log"))
            write_json(state_path(d), st)
            print(json.dumps(st))
            return 0
        except RuntimeError as e:
            last_error = e
            for pid in st["pids"].values():
                stop_pid(pid)
    sys.exit(f"mailservers: start failed: {last_error}")


def cmd_stop(a):
    d = os.path.abspath(a.dir)
    if not os.path.exists(state_path(d)):
        return 0
    st = read_json(state_path(d))
    for key in ("watch", "smtp", "imap"):  # the watchdog first, so it cannot race this stop
        stop_pid(st["pids"].get(key))
        st["pids"][key] = None
    write_json(state_path(d), st)
    return 0


def cmd_watch(a):
    """Stops the servers once the owner process is gone (a crashed test must not leak them)."""
    d = os.path.abspath(a.dir)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while alive(a.owner_pid) and os.path.exists(state_path(d)):
        time.sleep(0.5)
    try:
        st = read_json(state_path(d))
    except (OSError, ValueError):
        return 0
    for key in ("smtp", "imap"):
        stop_pid(st["pids"].get(key))
    return 0


def cmd_stop_one(a, key):
    d = os.path.abspath(a.dir)
    st = load_state(d)
    stop_pid(st["pids"].get(key))
    st["pids"][key] = None
    write_json(state_path(d), st)
    return 0


def cmd_start_one(a, key):
    d = os.path.abspath(a.dir)
    st = load_state(d)
    if st["pids"].get(key) and alive(st["pids"][key]):
        return 0
    # Same ports as before, so clients configured earlier reconnect to the restarted server.
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            (start_imap if key == "imap" else start_smtp)(d, st)
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    write_json(state_path(d), st)
    return 0


def cmd_append(a):
    st = load_state(os.path.abspath(a.dir))
    uids = append_files(st, a.user or st["users"][0][0], a.files, a.mailbox)
    print(" ".join(str(u) for u in uids))
    return 0


def cmd_flags(a):
    st = load_state(os.path.abspath(a.dir))
    flags = fetch_flags(st, a.user or st["users"][0][0], a.uid, a.mailbox)
    if flags is None:
        sys.exit(f"mailservers: no message with UID {a.uid}")
    print(flags)
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start Dovecot and the SMTP sink, write DIR/servers.json")
    s.add_argument("--dir", required=True)
    s.add_argument("--user", action="append", help="NAME[:PASSWORD] (repeatable)")
    s.add_argument("--no-tls", action="store_true", help="no IMAPS listener")
    s.add_argument("--owner-pid", type=int,
                   help="stop the servers by themselves when this process exits")
    for name in ("stop", "stop-imap", "start-imap", "stop-smtp", "start-smtp"):
        sub.add_parser(name).add_argument("--dir", required=True)
    s = sub.add_parser("append", help="APPEND .eml files; prints the new UIDs")
    s.add_argument("--dir", required=True)
    s.add_argument("--user")
    s.add_argument("--mailbox", default="INBOX")
    s.add_argument("files", nargs="+")
    s = sub.add_parser("flags", help="print the flags of one message")
    s.add_argument("--dir", required=True)
    s.add_argument("--user")
    s.add_argument("--mailbox", default="INBOX")
    s.add_argument("--uid", type=int, required=True)
    s = sub.add_parser("watch", help=argparse.SUPPRESS)
    s.add_argument("--dir", required=True)
    s.add_argument("--owner-pid", type=int, required=True)
    s = sub.add_parser("smtp-serve", help=argparse.SUPPRESS)
    s.add_argument("--dir", required=True)
    s.add_argument("--port", type=int, required=True)
    a = ap.parse_args(argv)
    if a.cmd == "start":
        return cmd_start(a)
    if a.cmd == "stop":
        return cmd_stop(a)
    if a.cmd in ("stop-imap", "stop-smtp"):
        return cmd_stop_one(a, a.cmd.split("-")[1])
    if a.cmd in ("start-imap", "start-smtp"):
        return cmd_start_one(a, a.cmd.split("-")[1])
    if a.cmd == "append":
        return cmd_append(a)
    if a.cmd == "flags":
        return cmd_flags(a)
    if a.cmd == "watch":
        return cmd_watch(a)
    if a.cmd == "smtp-serve":
        smtp_serve(a.dir, a.port)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
