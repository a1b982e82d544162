#!/usr/bin/env bash
# The demo: installs what it needs, builds supportd, starts Dovecot (IMAP) and an SMTP server on
# loopback in .demo/, loads sample customer mail, runs supportd once, shows the replies it sent
# and the thread log, then stops the servers. Usage: scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh
build=${SUPPORTD_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target supportd
bin=$root/$build/supportd

demo=$root/.demo
servers=/usr/bin/python3
harness=$root/tests/harness/mailservers.py
[[ -f $demo/servers/servers.json ]] && $servers "$harness" stop --dir "$demo/servers" || true
rm -rf "$demo"
mkdir -p "$demo"
trap '$servers "$harness" stop --dir "$demo/servers" >/dev/null 2>&1 || true' EXIT
$servers "$harness" start --dir "$demo/servers" >/dev/null
ports=$(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["imap_port"], s["smtp_port"])' "$demo/servers/servers.json")
read -r imap_port smtp_port <<<"$ports"
echo "test" > "$demo/imap.secret"
cat > "$demo/supportd.toml" <<TOML
[imap]
url = "imap://127.0.0.1:$imap_port/INBOX"
user = "support@okpay-wallet.example"
password_file = "imap.secret"
poll_seconds = 5
[smtp]
url = "smtp://127.0.0.1:$smtp_port"
[reply]
from = "OKPay Support <support@okpay-wallet.example>"
addresses = ["support@okpay-wallet.example"]
[store]
path = "supportd.db"
[classifier]
rules = "$root/config/categories.toml"
[templates]
dir = "$root/templates"
TOML

# Sample mail: the project's own test messages, plus the shared dev corpus when it is there.
samples=("$root"/tests/data/daemon/*.eml)
if [[ -d $root/../shared/corpus/dev ]]; then
  samples+=("$root"/../shared/corpus/dev/dev-0[0-3]*.eml)
fi
$servers "$harness" append --dir "$demo/servers" "${samples[@]}" >/dev/null
echo "== Loaded ${#samples[@]} messages into the demo mailbox (Dovecot on 127.0.0.1:$imap_port)"

"$bin" check-config --config "$demo/supportd.toml"
echo "== supportd run --once"
"$bin" run --once --config "$demo/supportd.toml" 2> "$demo/supportd.log" || { cat "$demo/supportd.log"; exit 1; }
grep -c "outcome=sent" "$demo/supportd.log" | xargs echo "   replies sent:"
echo "   log: $demo/supportd.log"

echo
echo "== Replies received by the SMTP server (first three shown in full)"
/usr/bin/python3 - "$demo/servers/smtp" <<'PY'
import email, email.policy, glob, json, os, sys
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.eml")))
for i, f in enumerate(files):
    m = email.message_from_bytes(open(f, "rb").read(), policy=email.policy.default)
    meta = json.load(open(f[:-4] + ".json"))
    print(f"-- to {', '.join(meta['rcpt_tos'])} | {m['Subject']}")
    if i < 3:
        for h in ("From", "In-Reply-To", "Auto-Submitted", "Message-ID"):
            print(f"   {h}: {m[h]}")
        print("   " + m.get_content().strip().replace("\n", "\n   "))
        print()
print(f"({len(files)} replies)")
PY
echo
echo "== Thread log (supportd threads list)"
"$bin" threads list --config "$demo/supportd.toml" | cut -c1-150
echo
echo "Escalated threads: $("$bin" threads list --status escalated --config "$demo/supportd.toml" | wc -l)"
echo "Try: $bin threads show 1 --config $demo/supportd.toml"
