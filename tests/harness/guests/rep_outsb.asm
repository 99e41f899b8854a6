; REP OUTSB of 65535 bytes to port 0x80 in a loop: few instructions, much
; work for the hypervisor (each element is an I/O access it emulates).
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
