; boot-multiboot1's initrd: INITRD_SIZE bytes of xeno_boot.inc's test pattern.
; kernel.asm includes this file (with BOOT_KERNEL defined) for the two
; numbers, and checks the module's size and FNV-1a against them.
INITRD_SIZE equ 5000                ; not a multiple of 4 KiB: mod_end is exact
INITRD_SEED equ 0x1b1
%ifndef BOOT_KERNEL
%include "xeno_boot.inc"
    BOOT_INITRD_BYTES INITRD_SIZE, INITRD_SEED
%endif
