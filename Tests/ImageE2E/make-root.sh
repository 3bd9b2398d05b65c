#!/bin/bash
# Builds (once) the root filesystem of a "stock cloud instance" for the image end-to-end
# tests: Debian bookworm from Debian's own mirror, with no Swift toolchain and nothing
# dstack-specific, cached as a tarball so later calls take a moment.
#
#   make-root.sh [--variant stock|runner-libs] [CACHE_DIR]
#
# CACHE_DIR defaults to <repo>/.build/e2e-image. Prints the tarball's path as the only
# line on stdout; progress goes to stderr. Exit 0 with the path, 1 on any failure.
#
# Variants:
#   stock        debootstrap's minbase plus what Debian's cloud images ship that user data
#                needs: curl and ca-certificates (the images' EXTRAS package class), and
#                iproute2 (priority important, on every image). curl brings libcurl4 and
#                libssl3 with it, as on a real image; libjansson4 is NOT there.
#   runner-libs  stock plus the runner's shared libraries (libcurl4, libjansson4, libssl3),
#                for timing a cold start without installs.
set -euo pipefail

usage() { echo "usage: make-root.sh [--variant stock|runner-libs] [CACHE_DIR]" >&2; exit 2; }

variant=stock
cache_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) [ $# -ge 2 ] || usage; variant=$2; shift 2 ;;
        --variant=*) variant=${1#--variant=}; shift ;;
        -h|--help) usage ;;
        -*) usage ;;
        *) [ -z "$cache_dir" ] || usage; cache_dir=$1; shift ;;
    esac
done

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache_dir=${cache_dir:-$repo/.build/e2e-image}
suite=bookworm

# The stock image's extra packages (see the header). Keep this list to what a stock
# Debian cloud image has; the runner's own needs are the user data's job.
stock_packages=curl,ca-certificates,iproute2
case "$variant" in
    stock) packages=$stock_packages ;;
    runner-libs) packages=$stock_packages,libcurl4,libjansson4,libssl3 ;;
    *) echo "make-root.sh: unknown variant '$variant' (stock or runner-libs)" >&2; exit 2 ;;
esac
# Named after this script's content: a changed recipe makes a new root, never reuses an
# old one (the cache may outlive a checkout on a machine that is kept).
recipe=$(sha256sum "$here/make-root.sh" | cut -c1-12)
tarball=$cache_dir/$suite-$variant-$recipe.tar

log() { echo "make-root: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
    echo "make-root.sh: must run as root (debootstrap and chroot need it)" >&2
    exit 1
fi

mkdir -p "$cache_dir"
# One builder at a time per cache; a second caller waits, then finds the tarball made.
exec 9>"$cache_dir/.lock"
flock 9

if [ -f "$tarball" ]; then
    echo "$tarball"
    exit 0
fi

# The mirror the host itself uses (its deb822 sources), so the root comes from Debian's
# mirror as this machine reaches it.
host_sources=/etc/apt/sources.list.d/debian.sources
mirror_for() { # $1: the suite a URIs line must serve ("bookworm" or "bookworm-security")
    [ -r "$host_sources" ] || return 0
    awk -v want="$1" '
        /^[[:space:]]*$/ { if (uri != "" && hit) exit; uri = ""; hit = 0; next }
        /^URIs:/ { uri = $2 }
        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == want) hit = 1 }
        END { if (uri != "" && hit) print uri }
    ' "$host_sources"
}
mirror=$(mirror_for "$suite")
mirror=${mirror:-http://deb.debian.org/debian}
security_mirror=$(mirror_for "$suite-security")
security_mirror=${security_mirror:-http://deb.debian.org/debian-security}

if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show debootstrap >/dev/null 2>&1; then
        apt-get update -qq >&2
    fi
    apt-get install -y -qq debootstrap >&2
fi

# Left-overs of a builder that was killed: nothing under them is mounted (debootstrap
# runs in its own mount namespace), so they can simply go.
rm -rf "$cache_dir"/.building-* 2>/dev/null || true

work=$(mktemp -d "$cache_dir/.building-$variant-XXXXXX")
cleanup() {
    # Never delete through a mount point; there should be none (see unshare below).
    if findmnt -rn -o TARGET | grep -F "$work/" >/dev/null; then
        log "refusing to delete $work: something is still mounted under it"
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

root=$work/root
mkdir -p "$cache_dir/debs"
log "debootstrap --variant=minbase $suite from $mirror (+ $packages)"
start=$(date +%s)
# In a private mount namespace: the /proc and /sys that debootstrap mounts in the target
# go away with it even when it is killed halfway.
if ! unshare --mount --propagation private \
    debootstrap --variant=minbase --include="$packages" \
        --cache-dir="$cache_dir/debs" \
        "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    echo "make-root.sh: debootstrap failed" >&2
    exit 1
fi

# The sources a stock bookworm cloud image carries (deb822, with updates and security).
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security_mirror
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# A fresh image has no package lists and no downloaded packages.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/debootstrap
mkdir -p "$root/var/lib/apt/lists/partial"
# debootstrap copied the build host's resolver and name; an image has its own, set at
# boot (boot-instance.sh writes them).
echo "localhost" >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

# What the tests rely on: no Swift, and libjansson only where asked for.
if chroot "$root" /bin/sh -c 'command -v swift || ls /usr/lib/swift /opt/swift' >/dev/null 2>&1; then
    echo "make-root.sh: the root has a Swift toolchain; it must not" >&2; exit 1
fi
has_jansson=no
chroot "$root" dpkg-query -W -f='${Status}' libjansson4 2>/dev/null | grep "install ok installed" >/dev/null && has_jansson=yes
case "$variant/$has_jansson" in
    stock/yes) echo "make-root.sh: the stock root has libjansson4; it must not" >&2; exit 1 ;;
    runner-libs/no) echo "make-root.sh: the runner-libs root lacks libjansson4" >&2; exit 1 ;;
esac
chroot "$root" dpkg-query -W -f='${Package}\n' | sort >"$work/packages.txt"
cp "$work/packages.txt" "${tarball%.tar}.packages"

tar --numeric-owner -C "$root" -cpf "$work/root.tar" .
mv -T "$work/root.tar" "$tarball"   # atomic: a tarball that exists is complete
for old in "$cache_dir/$suite-$variant"-*.tar; do   # roots of earlier recipes
    [ "$old" = "$tarball" ] || rm -f "$old" "${old%.tar}.packages"
done
log "made $tarball ($(du -h "$tarball" | cut -f1), $(wc -l <"$work/packages.txt") packages) in $(( $(date +%s) - start ))s"
echo "$tarball"
