#!/usr/bin/env bash
# Installs what hafw's lab and tests need on a Debian machine: the Debian packages the e2e tests
# and the lab use (real keepalived / conntrackd peers, iptables, arping, tcpdump) and the npm
# dependencies (npm ci). Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = "0" ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    keepalived conntrackd conntrack iptables nftables iproute2 iputils-arping iputils-ping tcpdump procps >/dev/null
else
  echo "install-deps: not root, skipping apt-get (the lab and e2e tests need root anyway)" >&2
fi
npm ci --no-audit --no-fund
