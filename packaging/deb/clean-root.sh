#!/usr/bin/env bash
# A clean root for an install test, in seconds instead of a debootstrap's minutes: an empty
# directory that holds only the Debian packages DEB depends on (the closure of its Depends and
# Pre-Depends, resolved against this Debian host's dpkg database), plus the essential packages its
# maintainer scripts and /usr/bin shims call (dash, coreutils, init-system-helpers, perl-base and their
# closure), copied from this host together with their dpkg status; then DEB is installed into it
# with `dpkg --root`, so dpkg checks DEB's dependencies against that database and runs its
# maintainer scripts chrooted into ROOT. A library DEB needs but does not declare is not there.
#   packaging/deb/clean-root.sh ROOT DEB     (as root; ROOT must not exist)
set -euo pipefail
root=$1
deb=$2
[ ! -e "$root" ] || { echo "clean-root: $root exists" >&2; exit 1; }
[ -L /bin ] || { echo "clean-root: this host is not merged-/usr; a Debian 12 host is" >&2; exit 1; }
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{etc,tmp,run,proc,sys,dev} "$root"/var/lib/dpkg/{info,updates}
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done
chmod 1777 "$root/tmp"

# Package names from a Depends-style field: for each item, the first alternative installed here.
installed () { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
first_installed () {
  tr ',' '\n' | while IFS= read -r item; do
    [ -n "${item// /}" ] || continue
    found=''
    IFS='|' read -ra alts <<<"$item"
    for alt in "${alts[@]}"; do
      name=$(sed -E 's/^ *([^ (:]+).*/\1/' <<<"$alt")
      if installed "$name"; then found=$name; break; fi
    done
    [ -n "$found" ] || { echo "clean-root: no installed package satisfies \"$item\"" >&2; exit 1; }
    echo "$found"
  done
}

declare -A seen=()
queue=(dash coreutils init-system-helpers perl-base)
mapfile -t -O ${#queue[@]} queue < <(dpkg-deb -f "$deb" Pre-Depends Depends | sed -E 's/^[A-Za-z-]+: //' | tr '\n' ',' | first_installed)
while [ ${#queue[@]} -gt 0 ]; do
  p=${queue[0]}; queue=("${queue[@]:1}")
  [ -z "${seen[$p]:-}" ] || continue
  seen[$p]=1
  mapfile -t -O ${#queue[@]} queue < <(dpkg-query -W -f='${Pre-Depends},${Depends}\n' "$p" | first_installed)
done

# Their files (no documentation) and their dpkg records.
list=$(mktemp)
for p in "${!seen[@]}"; do
  bp=$(dpkg-query -W -f='${binary:Package}' "$p")
  # (dpkg-query -L also prints diversion notes, lines that are not paths.)
  dpkg-query -L "$p" | grep '^/' | grep -vE '^/usr/share/(doc|man|info|locale|lintian)/' >"$root/var/lib/dpkg/info/$bp.list" || true
  sed 's|^/||' "$root/var/lib/dpkg/info/$bp.list" >>"$list"
  dpkg-query -s "$p" >>"$root/var/lib/dpkg/status"
  echo >>"$root/var/lib/dpkg/status"
done
# Directories come as entries of their own (--no-recursion); files removed from the host by a
# dpkg path-exclude are skipped (--ignore-failed-read).
tar -C / --no-recursion --ignore-failed-read -T "$list" -cf - 2>/dev/null | tar -C "$root" --keep-directory-symlink -xf -
rm -f "$list"
[ -e "$root/bin/sh" ] || ln -s dash "$root/usr/bin/sh"
: >"$root/var/lib/dpkg/available"

dpkg --root="$root" --install "$deb"
echo "clean-root: $root holds ${#seen[@]} packages and $(dpkg-deb -f "$deb" Package)"
