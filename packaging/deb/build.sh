#!/usr/bin/env bash
# Builds the Debian package from this repository: build/hafw_<version>_<arch>.deb
#   packaging/deb/build.sh
# Installs the daemon, the CLI, the systemd unit and the example config. Needs node/npm (to
# build and to install the production dependencies, which include a native module) and dpkg-deb.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
stage=build/deb/hafw_${version}_${arch}
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/lib/hafw" "$stage/usr/bin" "$stage/lib/systemd/system" \
  "$stage/usr/share/doc/hafw/examples" "$stage/etc/hafw"

# Compiled straight into the stage: the working tree's dist/ is left alone.
npx tsc -p tsconfig.json --outDir "$stage/usr/lib/hafw/dist" --sourceMap false
cp package.json package-lock.json "$stage/usr/lib/hafw/"
# The native addons (IPv6 VRRP receiver, ctnetlink sockets), built by npm ci in the working tree;
# the staged package.json drops the install script that builds them (the stage has no sources).
for addon in vrrp6 nfct; do
  mkdir -p "$stage/usr/lib/hafw/native/$addon/build/Release"
  cp "native/$addon/build/Release/$addon.node" "$stage/usr/lib/hafw/native/$addon/build/Release/"
done
node -e 'const f=process.argv[1],p=require(f);delete p.scripts.install;require("fs").writeFileSync(f,JSON.stringify(p,null,2))' "$(pwd)/$stage/usr/lib/hafw/package.json"
mkdir -p "$stage/usr/lib/hafw/config" && cp config/hafw.schema.json "$stage/usr/lib/hafw/config/"
(cd "$stage/usr/lib/hafw" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts=false >/dev/null && rm -f package-lock.json)
rm -rf "$stage/usr/lib/hafw/dist/lab" "$stage/usr/lib/hafw/dist/bench"

for cmd in hafwd hafwctl; do
  cat > "$stage/usr/bin/$cmd" <<SHIM
#!/bin/sh
# $cmd from the hafw package: the code lives in /usr/lib/hafw (relative to this script, so an
# unpacked package runs from where it was unpacked).
here=\$(dirname "\$(readlink -f "\$0")")
exec node "\$here/../lib/hafw/dist/main/$cmd-bin.js" "\$@"
SHIM
  chmod 0755 "$stage/usr/bin/$cmd"
done

install -m 0644 packaging/systemd/hafwd.service "$stage/lib/systemd/system/hafwd.service"
install -m 0644 config/hafw.example.yaml "$stage/usr/share/doc/hafw/examples/hafw.example.yaml"
install -m 0644 README.md "$stage/usr/share/doc/hafw/README.md"
install -m 0644 LICENSE "$stage/usr/share/doc/hafw/copyright"
install -m 0644 config/hafw.example.yaml "$stage/etc/hafw/hafw.yaml.example"

size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: hafw
Version: ${version}
Architecture: ${arch}
Maintainer: hafw developers <hafw@localhost>
Installed-Size: ${size}
Depends: nodejs (>= 20), iputils-arping, iproute2
Recommends: conntrack
Section: net
Priority: optional
Description: high-availability agent for Linux firewalls
 One daemon, hafwd, replacing keepalived + conntrackd on a firewall pair: VRRPv2/v3
 (IPv4 and IPv6) with sync groups and tracking, gratuitous ARP and unsolicited NA,
 VIPs over rtnetlink, and conntrack state sync compatible with conntrackd FTFW.
 hafwctl shows the state of the running daemon.
CONTROL
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
# Not enabled automatically: the operator writes /etc/hafw/hafw.yaml first
# (see /etc/hafw/hafw.yaml.example), then: systemctl enable --now hafwd
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTINST
cat > "$stage/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
POSTRM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/postrm"
dpkg-deb --root-owner-group --build "$stage" "build/hafw_${version}_${arch}.deb" >/dev/null
echo "build/hafw_${version}_${arch}.deb"
