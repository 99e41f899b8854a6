; boot-linux64's initrd: INITRD_SIZE bytes of xeno_boot.inc's test pattern.
; kernel.asm includes this file (with BOOT_KERNEL defined) for the two
; numbers, and checks ramdisk_size and the bytes' FNV-1a against them.
INITRD_SIZE equ 5000                ; not a multiple of a page
INITRD_SEED equ 0x641
%ifndef BOOT_KERNEL
%include "xeno_boot.inc"
    BOOT_INITRD_BYTES INITRD_SIZE, INITRD_SEED
%endif
