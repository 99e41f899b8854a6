; boot-pvh's initrd: INITRD_SIZE bytes of xeno_boot.inc's test pattern.
; kernel.asm includes this file (with BOOT_KERNEL defined) for the two
; numbers, and checks the module's size and FNV-1a against them.
INITRD_SIZE equ 4097                ; one byte past a page
INITRD_SEED equ 0x3c3
%ifndef BOOT_KERNEL
%include "xeno_boot.inc"
    BOOT_INITRD_BYTES INITRD_SIZE, INITRD_SEED
%endif
