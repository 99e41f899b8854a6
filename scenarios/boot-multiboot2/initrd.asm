; boot-multiboot2's initrd: INITRD_SIZE bytes of xeno_boot.inc's test pattern.
; kernel.asm includes this file (with BOOT_KERNEL defined) for the two
; numbers, and checks the module's size and FNV-1a against them.
INITRD_SIZE equ 12345               ; three pages and a bit
INITRD_SEED equ 0x2b2
%ifndef BOOT_KERNEL
%include "xeno_boot.inc"
    BOOT_INITRD_BYTES INITRD_SIZE, INITRD_SEED
%endif
