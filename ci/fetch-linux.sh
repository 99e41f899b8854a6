#!/usr/bin/env bash
# Fetch the third-party guests the `linux` tests boot, from Debian's
# packages (apt-get download: nothing is installed into the machine, nothing
# is vendored): the kernel of Debian 12's linux-image-amd64 and
# busybox-static, unpacked under build/linux/. Then build the test
# initramfs (ci/make-initramfs.py). Leaves:
#   build/linux/vmlinuz        the bzImage (Debian's /boot/vmlinuz-*)
#   build/linux/initramfs.cpio busybox and an /init that mounts /proc, prints
#                              a marker and the online CPUs, and powers off
#   build/linux/VERSION        the kernel package's name and version
# Safe to run again: it does only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/build/linux
mkdir -p "$out/debs"

if [ -f "$out/vmlinuz" ] && [ -f "$out/busybox" ] && [ -f "$out/initramfs.cpio" ] &&
   [ ! "$here/ci/make-initramfs.py" -nt "$out/initramfs.cpio" ]; then
    echo "fetch-linux: $(cat "$out/VERSION") already in build/linux"
    exit 0
fi

kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}
kernel_pkg=$(kernel_package)
if [ -z "$kernel_pkg" ]; then
    # A machine whose packages were all there already may have no package lists.
    echo "fetch-linux: apt-get update"
    apt-get update -qq
    kernel_pkg=$(kernel_package)
fi
if [ -z "$kernel_pkg" ]; then
    echo "fetch-linux: cannot find the kernel package linux-image-amd64 depends on" >&2
    exit 1
fi
cd "$out/debs"
for pkg in "$kernel_pkg" busybox-static; do
    if ! ls "${pkg}"_*.deb >/dev/null 2>&1; then
        echo "fetch-linux: apt-get download $pkg"
        apt-get download -q "$pkg" >/dev/null
    fi
done
if [ ! -f "$out/vmlinuz" ]; then
    rm -rf "$out/kernel"
    dpkg-deb -x "${kernel_pkg}"_*.deb "$out/kernel"
    cp "$out"/kernel/boot/vmlinuz-* "$out/vmlinuz"
    chmod 644 "$out/vmlinuz"  # Debian ships it readable by root only
    echo "$kernel_pkg $(dpkg-deb -f "${kernel_pkg}"_*.deb Version)" > "$out/VERSION"
    rm -rf "$out/kernel/lib"  # the modules: the tests need none (~400 MB unpacked)
fi
if [ ! -f "$out/busybox" ]; then
    rm -rf "$out/busybox-pkg"
    dpkg-deb -x busybox-static_*.deb "$out/busybox-pkg"
    cp "$out/busybox-pkg/bin/busybox" "$out/busybox"
fi
if [ ! -f "$out/initramfs.cpio" ] || [ "$here/ci/make-initramfs.py" -nt "$out/initramfs.cpio" ]; then
    python3 "$here/ci/make-initramfs.py" "$out/busybox" "$out/initramfs.cpio"
fi
echo "fetch-linux: $(cat "$out/VERSION"), $(stat -c %s "$out/vmlinuz") bytes; initramfs $(stat -c %s "$out/initramfs.cpio") bytes"
