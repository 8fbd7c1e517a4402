#!/usr/bin/env bash
# Build a local Debian bookworm base image with python3 and python3-venv, for machines with no
# image registry (see shared/ENVIRONMENT.md): debootstrap from the Debian mirror apt already uses,
# then `podman import`. Needs root, debootstrap and podman. Does nothing when the image exists.
#   tools/base-image.sh [IMAGE]      (default localhost/debian-python:bookworm)
set -euo pipefail

image=${1:-localhost/debian-python:bookworm}
if podman image exists "$image"; then
    echo "$image exists"
    exit 0
fi
for tool in debootstrap podman; do
    command -v "$tool" >/dev/null || {
        echo "base-image needs $tool: apt-get install -y podman runc debootstrap" >&2
        exit 1
    }
done
[[ $(id -u) == 0 ]] || { echo "base-image needs root (debootstrap)" >&2; exit 1; }

sources=/etc/apt/sources.list.d/debian.sources
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/{print $2; exit}' "$sources" 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
rootfs=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$rootfs" "$log"' EXIT

echo "debootstrap bookworm from $mirror (about a minute)"
debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" \
    >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
# Package lists, the .deb cache, documentation and translations: about half of the tree.
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
tar --numeric-owner -C "$rootfs" -c . \
    | podman import --change 'CMD ["python3"]' --message "debootstrap bookworm minbase + python3" \
        - "$image"
