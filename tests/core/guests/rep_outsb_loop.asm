; REP OUTSB of 65535 bytes to port 0x80, forever: few instructions, but the
; instruction limit counts each element (an I/O access the hypervisor
; emulates), so the limit stops it at a VM exit.
bits 16
org 0x8000
    xor ax, ax
    mov ds, ax
    cld
    mov dx, 0x80
again:
    xor si, si
    mov cx, 0xffff
    rep outsb
    jmp again
