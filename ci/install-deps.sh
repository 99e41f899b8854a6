#!/usr/bin/env bash
# Install everything Xeno needs on a Debian 12 machine (run as root), and
# fetch Unicorn 2.1.4's official binary distribution from PyPI into
# build/deps/unicorn (Debian 12 ships Unicorn 2.0.1, which cannot translate
# guest paging: see DESIGN.md). Safe to run again: it does only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
    build-essential cmake ninja-build pkg-config python3 python3-pip unzip
    nasm catch2 libtomlplusplus-dev libcli11-dev libfmt-dev libzstd-dev libxxhash-dev libcapstone-dev
    zlib1g-dev liblzma-dev liblz4-dev nlohmann-json3-dev
    clang-14 libclang-rt-14-dev
    bochs bochsbios vgabios bochs-term grub-pc-bin grub-common xorriso mtools seabios
    gdb
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

unicorn_version=2.1.4
dest="$here/build/deps/unicorn"
if [ ! -f "$dest/lib/libunicorn.so.2" ] || ! grep -q "UC_API_PATCH 4" "$dest/include/unicorn/unicorn.h" 2>/dev/null; then
    echo "install-deps: fetching unicorn $unicorn_version from PyPI"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux2014_x86_64 -d "$tmp" "unicorn==$unicorn_version"
    python3 -m zipfile -e "$tmp"/unicorn-"$unicorn_version"-*.whl "$tmp/wheel"
    if [ ! -f "$tmp/wheel/unicorn/lib/libunicorn.so.2" ] || [ ! -f "$tmp/wheel/unicorn/include/unicorn/unicorn.h" ]; then
        echo "install-deps: the unicorn wheel lacks lib/libunicorn.so.2 or include/unicorn/unicorn.h" >&2
        exit 1
    fi
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -r "$tmp/wheel/unicorn/include" "$tmp/wheel/unicorn/lib" "$dest/"
    ln -sf libunicorn.so.2 "$dest/lib/libunicorn.so"
fi
