#!/usr/bin/env bash
# Installs every Debian package supportd needs to build, test and run its demo.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail
packages=(
  build-essential cmake pkg-config git
  libcurl4-openssl-dev libssl-dev libmimetic-dev libboost-dev libsqlitecpp-dev libsqlite3-dev
  libtomlplusplus-dev libicu-dev libkainjow-mustache-dev libcli11-dev libsystemd-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev
  dovecot-imapd python3-aiosmtpd sqlite3
  chromium fonts-noto-cjk nodejs  # tests/web: the agents' page in headless Chromium
  clang-16 libclang-rt-16-dev  # scripts/fuzz.sh: libFuzzer (clang 14 cannot compile <expected>)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The browser test drives Debian's /usr/bin/chromium with playwright-core, installed from the
# committed lockfile into tests/web/node_modules (playwright-core never downloads a browser).
web_tests="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/web" && pwd)"
if [[ ! -d "$web_tests/node_modules/playwright-core" ]]; then
  # Debian's nodejs comes without npm (NodeSource's nodejs includes it).
  if ! command -v npm >/dev/null; then
    as_root=()
    [[ $(id -u) -eq 0 ]] || as_root=(sudo)
    DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends npm
  fi
  echo "install-deps: npm ci in $web_tests"
  (cd "$web_tests" && npm ci --no-audit --no-fund --ignore-scripts)
fi
