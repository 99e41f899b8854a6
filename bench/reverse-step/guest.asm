; bench/reverse-step.sh's guest: 40 rounds of a loop of 1 M iterations (4
; instructions each: add to a counter in memory, inc, dec, jnz), a console
; byte after each round (its I/O exits give --snapshot-at points along the
; run), then a line and exit status 0. About 160 M guest instructions.
%include "xeno.inc"

ROUNDS     equ 40
ITERATIONS equ 1000000

    org 0x8000

start:
    XENO_ENTER_PM32 main, 0x8000

    bits 32
main:
    mov ebx, ROUNDS
.round:
    mov ecx, ITERATIONS
.loop:
    add dword [counter], 1
    inc eax
    dec ecx
    jnz .loop
    mov al, '.'
    call xeno_putc32
    dec ebx
    jnz .round
    mov esi, message
    call xeno_puts32
    XENO_EXIT 0

    XENO_PRINT32_ROUTINES
    XENO_FLAT_GDT

message:
    db 10, "reverse-step guest done", 10, 0

    align 4
counter:
    dd 0
