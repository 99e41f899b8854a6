; hello: the smallest complete guest. Starts in real mode at 0x8000 (CS=0,
; IP=0x8000), enters 32-bit protected mode with flat segments, prints
; "hello from xeno\n" on the UART and exits with status 0.
%include "xeno.inc"

    org 0x8000

start:
    XENO_ENTER_PM32 main, 0x8000    ; the stack grows down from just below the image

    bits 32
main:
    mov esi, message
    call xeno_puts32
    XENO_EXIT 0

    XENO_PRINT32_ROUTINES
    XENO_FLAT_GDT

message:
    db "hello from xeno", 10, 0
