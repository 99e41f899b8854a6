#!/usr/bin/env python3
"""Write the `linux` tests' initramfs: a cpio archive in the "newc" format
(Linux's Documentation/driver-api/early-userspace/buffer-format.rst) with
busybox-static and an /init, every entry owned by root with mtime 0, so the
same busybox gives the same bytes (the runs replay exactly).

    make-initramfs.py BUSYBOX OUTPUT

/init mounts /proc and /sys, prints the marker line `xeno-init: ok`, the
online CPUs (`xeno-init: cpus <n>`) and the kernel's uptime; given
`xeno.balloon_kb=N` on the command line it lets the Xen balloon driver give N
kB back and take them again and prints the sizes (`xeno-init: balloon`); then powers the machine off (`poweroff -f`: ACPI S5). /dev/console is in the archive: without
it /init would run with no console."""
import stat
import sys

INIT = b"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "xeno-init: ok"
echo "xeno-init: cpus $(/bin/busybox grep -c ^processor /proc/cpuinfo) online $(/bin/busybox cat /sys/devices/system/cpu/online)"
echo "xeno-init: uptime $(/bin/busybox cat /proc/uptime)"
# xeno.balloon_kb=N on the kernel command line: give N kB back to the
# hypervisor through the Xen balloon and take them again.
kb=$(/bin/busybox sed -n 's/.*xeno\\.balloon_kb=\\([0-9]*\\).*/\\1/p' /proc/cmdline)
b=/sys/devices/system/xen_memory/xen_memory0
if [ -n "$kb" ] && [ -d $b ]; then
    before=$(/bin/busybox cat $b/info/current_kb)
    echo $((before - kb)) > $b/target_kb
    n=0
    while [ $(/bin/busybox cat $b/info/current_kb) -gt $((before - kb)) ] && [ $n -lt 50 ]; do /bin/busybox sleep 0.1; n=$((n + 1)); done
    down=$(/bin/busybox cat $b/info/current_kb)
    echo $before > $b/target_kb
    n=0
    while [ $(/bin/busybox cat $b/info/current_kb) -lt $before ] && [ $n -lt 50 ]; do /bin/busybox sleep 0.1; n=$((n + 1)); done
    echo "xeno-init: balloon $before kB, down to $down kB, back to $(/bin/busybox cat $b/info/current_kb) kB"
fi
/bin/busybox poweroff -f
"""


class Newc:
    def __init__(self):
        self.data = bytearray()
        self.ino = 1

    def entry(self, name, mode, body=b"", rdev=(0, 0)):
        header = "070701" + "".join("%08X" % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(body), 0, 0, rdev[0], rdev[1], len(name) + 1, 0))
        self.ino += 1
        self.data += header.encode() + name.encode() + b"\0"
        self.pad()
        self.data += body
        self.pad()

    def pad(self):
        while len(self.data) % 4:
            self.data += b"\0"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make-initramfs.py BUSYBOX OUTPUT")
    with open(sys.argv[1], "rb") as f:
        busybox = f.read()
    a = Newc()
    for d in ("dev", "proc", "sys", "bin"):
        a.entry(d, stat.S_IFDIR | 0o755)
    a.entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    a.entry("bin/busybox", stat.S_IFREG | 0o755, busybox)
    a.entry("bin/sh", stat.S_IFLNK | 0o777, b"busybox")
    a.entry("init", stat.S_IFREG | 0o755, INIT)
    a.entry("TRAILER!!!", 0)
    with open(sys.argv[2], "wb") as f:
        f.write(a.data)


if __name__ == "__main__":
    main()
