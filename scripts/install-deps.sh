#!/usr/bin/env bash
# Installs what hafw's lab and tests need on a Debian machine: the Debian packages the e2e tests
# and the lab use (real keepalived / conntrackd peers, iptables, arping, tcpdump), the toolchain
# node-gyp needs to build the native addons (build-essential: gcc, g++, make, binutils' strip,
# dpkg-dev's dpkg-shlibdeps for the package; python3), and the npm dependencies (npm ci).
# Node.js >= 20 must already be there: Debian 12 ships 18 (README "Install").
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "install-deps: hafw needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none)); Debian 12 ships 18: see README \"Install\"" >&2
  exit 1
fi
if [ "$(id -u)" = "0" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    keepalived conntrackd conntrack iptables nftables iproute2 iputils-arping iputils-ping tcpdump procps \
    build-essential python3 >/dev/null
else
  echo "install-deps: not root, skipping apt-get (the lab and e2e tests need root anyway)" >&2
fi
npm ci --no-audit --no-fund
# tap builds its test runner with the plugin list of package.json ("!@tapjs/typescript": the tests
# load through tsx). Without this the first run after `npm ci` still loads the default set, ts-node
# included, into every test process (~3 s more per file; 4+ minutes of CI), and builds it for next time.
npx tap build >/dev/null
