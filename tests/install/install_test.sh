#!/usr/bin/env bash
# Installs the build into a staging root (DESTDIR), checks the FHS layout, then runs the
# installed binary with the installed config (pointed at loopback test servers) and the
# installed rules and templates. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
stage=$(mktemp -d)
chmod 755 "$stage"  # Dovecot runs its mail processes as uid 65534
servers=$stage/servers
cleanup() { /usr/bin/python3 "$src/tests/harness/mailservers.py" stop --dir "$servers" >/dev/null 2>&1 || true; rm -rf "$stage"; }
trap cleanup EXIT

DESTDIR=$stage cmake --install "$build" >/dev/null
for f in usr/bin/supportd etc/supportd/supportd.toml etc/supportd/categories.toml \
         etc/supportd/templates/zh/general.mustache etc/supportd/templates/en/refund.mustache \
         lib/systemd/system/supportd.service usr/share/doc/supportd/README.md; do
  [[ -e $stage/$f ]] || { echo "FAIL: $f not installed"; exit 1; }
done
[[ -d $stage/var/lib/supportd ]] || { echo "FAIL: /var/lib/supportd not created"; exit 1; }
echo "installed layout ok"

exposure=$(systemd-analyze security --offline=true "$stage/lib/systemd/system/supportd.service" 2>/dev/null |
           sed -n 's/.*Overall exposure level for supportd.service: \([0-9.]*\).*/\1/p')
echo "systemd-analyze security exposure: ${exposure:-unknown}"
if [[ -n $exposure ]] && ! awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }'; then
  echo "FAIL: exposure $exposure over 2.5"; exit 1
fi

/usr/bin/python3 "$src/tests/harness/mailservers.py" start --dir "$servers" >/dev/null
read -r imap smtp < <(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["imap_port"], s["smtp_port"])' "$servers/servers.json")
conf=$stage/etc/supportd/supportd.toml
echo test > "$stage/etc/supportd/imap.secret"
echo test > "$stage/etc/supportd/smtp.secret"
# The installed config, pointed at the test servers and the staging root.
sed -i -e "s#^url = \"imaps://mail.example.com/INBOX\"#url = \"imap://127.0.0.1:$imap/INBOX\"#" \
       -e "s#^url = \"smtp://mail.example.com:587\"#url = \"smtp://127.0.0.1:$smtp\"#" \
       -e "s#^path = \"/var/lib/supportd/supportd.db\"#path = \"$stage/var/lib/supportd/supportd.db\"#" \
       -e "s#^rules = \"/etc/supportd/categories.toml\"#rules = \"$stage/etc/supportd/categories.toml\"#" \
       -e "s#^dir = \"/etc/supportd/templates\"#dir = \"$stage/etc/supportd/templates\"#" "$conf"
grep -q "127.0.0.1:$imap" "$conf" || { echo "FAIL: installed config has no [imap] url line to edit"; exit 1; }
"$stage/usr/bin/supportd" check-config --config "$conf"
/usr/bin/python3 "$src/tests/harness/mailservers.py" append --dir "$servers" "$src/tests/data/daemon/customer_zh_gb2312.eml" >/dev/null
"$stage/usr/bin/supportd" run --once --config "$conf"
sent=$(ls "$servers"/smtp/*.eml 2>/dev/null | wc -l)
[[ $sent -eq 1 ]] || { echo "FAIL: expected 1 reply from the installed binary, got $sent"; exit 1; }
echo "installed binary answered 1 message: ok"
