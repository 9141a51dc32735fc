#!/usr/bin/env bash
# The full install test, outside CI (minutes, needs deb.debian.org): a minimal Debian 12 made by
# mmdebstrap (apt-get install mmdebstrap), then `apt install ./hafw_*.deb` in it as an operator
# would, then the installed hafwd checks the shipped conffile, hafwctl answers --help, and
# `apt purge` removes it. The e2e test (test/e2e/package.test.ts) does the cheap variant in CI:
# dpkg --root into a root of the package's dependency closure, and runs the daemon to MASTER.
#   packaging/test-install.sh build/hafw_0.1.0-1_amd64.deb      (as root)
set -euo pipefail
deb=$(readlink -f "$1")
root=$(mktemp -d /tmp/hafw-bookworm-XXXXXX)
trap 'rm -rf "$root"' EXIT
start=$(date +%s)
mmdebstrap --quiet --variant=minbase bookworm "$root" http://deb.debian.org/debian
echo "test-install: minimal bookworm in $(( $(date +%s) - start )) s ($(du -sh "$root" | cut -f1))"
cp "$deb" "$root/tmp/"
in_root () { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
mount -t proc proc "$root/proc"
trap 'umount "$root/proc"; rm -rf "$root"' EXIT
in_root apt-get update -qq
in_root apt-get install -y -q "/tmp/$(basename "$deb")"
in_root dpkg-query -W -f='${Package} ${Version} ${Status}\n' hafw
in_root /usr/bin/hafwd --check-config /etc/hafw/hafw.yaml >/dev/null && echo "test-install: installed hafwd accepts the shipped /etc/hafw/hafw.yaml"
in_root /usr/bin/hafwctl --help | head -1
in_root /usr/lib/hafw/node -p '"bundled node " + process.version + ", modules ABI " + process.versions.modules'
in_root apt-get purge -y -q hafw
if [ -e "$root/etc/hafw" ] || [ -e "$root/usr/lib/hafw" ]; then echo "test-install: purge left files" >&2; exit 1; fi
echo "test-install: OK in $(( $(date +%s) - start )) s"
