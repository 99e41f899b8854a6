; Never ends: a jump to itself (the wall-time and instruction limits).
bits 16
org 0x8000
    jmp $
