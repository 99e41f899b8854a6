; A known number of instructions, ending inside a block with more after the
; exiting OUT (the block straddles the end): 1 + 3 * 100 + 1 = 302 counted,
; then the OUT to the debug exit port.
bits 16
org 0x8000
    mov cx, 100
next:
    nop
    dec cx
    jnz next
    mov al, 0
    out 0xf4, al
    nop
    nop
    nop
    hlt
