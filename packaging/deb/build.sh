#!/usr/bin/env bash
# Builds the Debian package for Debian 12 from this repository: build/hafw_<version>_<arch>.deb
#   packaging/deb/build.sh [--dist DIR] [--fast]
#     --dist DIR  take the compiled JavaScript from DIR (what `npm run build` left in dist/)
#                 instead of compiling it again into the stage
#     --fast      gzip -1 instead of xz: the same files, a bigger .deb, seconds instead of minutes
#                 (the e2e test uses it)
# Needs the npm ci'd working tree (its native addons were built by the node running this script,
# and that node is the one the package bundles, so the ABI always matches), dpkg-deb, strip
# (binutils) and dpkg-shlibdeps (dpkg-dev). Why the package looks like this: README "Packaging".
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

dist=''
compress=(-Zxz)
while [ $# -gt 0 ]; do
  case "$1" in
    --dist) dist=$(readlink -f "$2"); shift 2 ;;
    --fast) compress=(-Zgzip -z1); shift ;;
    *) echo "usage: $0 [--dist DIR] [--fast]" >&2; exit 2 ;;
  esac
done

# The version is the changelog's; its upstream part must be package.json's.
version=$(sed -n '1s/^hafw (\([^)]*\)).*/\1/p' packaging/deb/changelog)
upstream=$(node -p 'require("./package.json").version')
if [ "${version%-*}" != "$upstream" ]; then
  echo "build.sh: packaging/deb/changelog is at ${version}, package.json at ${upstream}: add a changelog entry" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
node_bin=$(node -p 'process.execPath')
node_arch=$(node -p 'process.arch')
stage=build/deb/hafw_${version}_${arch}
lib=$stage/usr/lib/hafw
doc=$stage/usr/share/doc/hafw
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$lib" "$stage/usr/bin" "$stage/lib/systemd/system" "$doc/examples" \
  "$stage/etc/hafw" "$stage/usr/share/lintian/overrides"

# --- the program: compiled JavaScript without the lab and the benchmarks, no source maps ---
# The daemon runs from its bundle (dist/daemon, scripts/bundle-daemon.mjs), the CLI from dist/main.
if [ -z "$dist" ]; then
  npx tsc -p tsconfig.json --outDir "$lib/dist" --sourceMap false
  node scripts/bundle-daemon.mjs --from "$lib/dist" --no-sourcemap
else
  [ -f "$dist/daemon/hafwd-bin.js" ] || { echo "build.sh: $dist has no daemon/hafwd-bin.js: run npm run build" >&2; exit 1; }
  (cd "$dist" && find . -name '*.js' -print0 | tar --null -T - -cf -) | tar -C "$lib" --one-top-level=dist -xf -
  find "$lib/dist" -name '*.js' -exec sed -i '/^\/\/# sourceMappingURL=/d' {} +
fi
rm -rf "$lib/dist/lab" "$lib/dist/bench"
mkdir -p "$lib/config" && cp config/hafw.schema.json "$lib/config/"
# package.json: ESM ("type": "module") and the runtime dependencies; no scripts (nothing is built
# on the target), no dev dependencies.
node -e '
  const p = require(process.argv[1])
  const out = { name: p.name, version: p.version, description: p.description, license: p.license, type: p.type, dependencies: p.dependencies }
  require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 2) + "\n")' "$repo/package.json" "$repo/$lib/package.json"

# Our N-API addons (IPv6 VRRP receiver, ctnetlink sockets), built by npm ci in the working tree.
for addon in vrrp6 nfct; do
  install -D -m 0644 "native/$addon/build/Release/$addon.node" "$lib/native/$addon/build/Release/$addon.node"
done

# --- runtime dependencies (and the copyright file, which lists them): stage-modules.mjs ---
node_license=''
for f in /usr/share/doc/nodejs/LICENSE "$(dirname "$node_bin")/../share/doc/node/LICENSE" "$(dirname "$node_bin")/../LICENSE"; do
  if [ -f "$f" ]; then node_license=$(readlink -f "$f"); break; fi
done
[ -n "$node_license" ] || { echo "build.sh: cannot find the LICENSE of $node_bin (needed for the copyright file)" >&2; exit 1; }
node packaging/deb/stage-modules.mjs "$repo" "$repo/$lib" "$node_arch" "$node_license" "$repo/$doc/copyright" >/dev/null
chmod 0644 "$doc/copyright"

# --- the Node.js runtime the addons were built against ---
install -m 0755 "$node_bin" "$lib/node"

# Stripped like dh_strip does (lintian: unstripped-binary-or-object); .dynsym stays, so the
# addons still find Node's N-API and V8 symbols.
find "$lib" -type f \( -name '*.node' -o -path "$lib/node" \) -exec strip --strip-unneeded --remove-section=.comment --remove-section=.note {} +
find "$lib" -type d -exec chmod 0755 {} + && find "$lib" -type f -exec chmod 0644 {} + && chmod 0755 "$lib/node"
# The bundled node must load every addon in the package: an ABI mismatch fails the build, not the
# daemon on a firewall.
mapfile -t addons < <(find "$lib" -name '*.node')
"$lib/node" -e 'for (const f of process.argv.slice(1)) require(require("path").resolve(f))' "${addons[@]}"
# And every runtime dependency must still import from the staged tree after the pruning above.
(cd "$lib" && ./node --input-type=module -e 'import { readFileSync } from "node:fs"
  for (const d of Object.keys(JSON.parse(readFileSync("package.json", "utf8")).dependencies)) await import(d)')

for cmd in hafwd hafwctl; do
  # The daemon's V8 flags and environment (src/main/node-flags.ts says why); the CLI needs none.
  flags=""
  env=""
  [ "$cmd" = hafwd ] && flags="--max-semi-space-size=1 --expose-gc "
  [ "$cmd" = hafwd ] && env="export MALLOC_ARENA_MAX=1"
  dir=main
  [ "$cmd" = hafwd ] && dir=daemon
  cat > "$stage/usr/bin/$cmd" <<SHIM
#!/bin/sh
# $cmd from the hafw package: the bundled node runs the code in /usr/lib/hafw (found relative to
# this script, so an unpacked package runs from where it was unpacked).
here=\$(dirname "\$(readlink -f "\$0")")
$env
exec "\$here/../lib/hafw/node" $flags"\$here/../lib/hafw/dist/$dir/$cmd-bin.js" "\$@"
SHIM
  chmod 0755 "$stage/usr/bin/$cmd"
done

# --- system integration and documentation ---
install -m 0644 packaging/systemd/hafwd.service "$stage/lib/systemd/system/hafwd.service"
install -m 0644 config/hafw.example.yaml "$stage/etc/hafw/hafw.yaml"
install -m 0644 config/hafw.example.yaml "$doc/examples/hafw.example.yaml"
install -m 0644 README.md "$doc/README.md"
gzip -9n <packaging/deb/changelog >"$doc/changelog.Debian.gz" && chmod 0644 "$doc/changelog.Debian.gz"
install -m 0644 packaging/deb/lintian-overrides "$stage/usr/share/lintian/overrides/hafw"

# --- control data ---
# Shared-library dependencies of node and the addons, computed by dpkg-shlibdeps (about 10 s on
# node): the answer is cached under the binaries' checksum.
shlibs_cache=build/deb/shlibs.cache
sum=$(cat "$lib/node" "${addons[@]}" | sha256sum | cut -d' ' -f1)
if [ -f "$shlibs_cache" ] && [ "$(head -1 "$shlibs_cache")" = "$sum" ]; then
  shlibs=$(sed -n 2p "$shlibs_cache")
else
  tmp=$(mktemp -d)
  mkdir -p "$tmp/debian"
  printf 'Source: hafw\n\nPackage: hafw\nArchitecture: any\n' >"$tmp/debian/control"
  shlibs=$(cd "$tmp" && dpkg-shlibdeps -O --warnings=0 "$repo/$lib/node" "${addons[@]/#/$repo/}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  rm -rf "$tmp"
  [ -n "$shlibs" ] || { echo "build.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
  printf '%s\n%s\n' "$sum" "$shlibs" >"$shlibs_cache"
fi

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: hafw
Version: ${version}
Architecture: ${arch}
Maintainer: hafw developers <maintainers@users.noreply.h-seed-cb9f5335.example>
Installed-Size: ${size}
Depends: ${shlibs}, iputils-arping
Suggests: conntrack, nftables
Section: net
Priority: optional
Description: high-availability daemon for Linux firewalls (VRRP + conntrack sync)
 One daemon, hafwd, replacing keepalived + conntrackd on a firewall pair:
 VRRPv2/v3 (IPv4 and IPv6) with sync groups and tracking, gratuitous ARP and
 unsolicited NA, VIPs over rtnetlink, and conntrack state sync compatible with
 conntrackd FTFW. hafwctl shows the state of the running daemon and reloads it.
 .
 The package bundles the Node.js runtime its native addons are built against.
CONTROL
echo /etc/hafw/hafw.yaml >"$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "packaging/deb/$s" "$stage/DEBIAN/$s"; done
(cd "$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

dpkg-deb --root-owner-group "${compress[@]}" --build "$stage" "build/hafw_${version}_${arch}.deb" >/dev/null
echo "build/hafw_${version}_${arch}.deb"
