; The GDB stub's test guest: real mode to 32-bit protected mode, then a loop
; that adds 1 to a counter five times, at addresses the tests name:
;   0x8100 main: eax = 0x11111111, ebx = 0x22222222, ecx = 5
;   0x8200 loop: add dword [0x9000], 1 (7 bytes); inc eax; dec ecx; jnz loop
;   0x9000 the counter
; then prints "gdb guest done" and exits with status 0.
%include "xeno.inc"

    org 0x8000

start:
    XENO_ENTER_PM32 main, 0x8000

    times 0x100 - ($ - $$) db 0x90
    bits 32
main:                               ; 0x8100
    mov eax, 0x11111111
    mov ebx, 0x22222222
    mov ecx, 5
    jmp loop

    times 0x200 - ($ - $$) db 0x90
loop:                               ; 0x8200
    add dword [counter], 1
    inc eax
    dec ecx
    jnz loop
    mov esi, message
    call xeno_puts32
    XENO_EXIT 0

    XENO_PRINT32_ROUTINES
    XENO_FLAT_GDT

message:
    db "gdb guest done", 10, 0

    times 0x1000 - ($ - $$) db 0
counter:                            ; 0x9000
    dd 0
