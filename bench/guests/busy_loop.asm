; busy_loop: a checksum over a 4 KiB buffer, 17 instructions per iteration
; mixing loads, stores and ALU operations. xeno-bench runs the kernel under
; Xeno (after the usual real-mode start) and the same bytes on a bare Unicorn
; engine, and compares guest instructions per second.
%include "bench.inc"

BUFFER equ 0x100000            ; 1025 dwords (the loop reads index + 1)

    org 0x8000
    BENCH_HEADER kernel, kernel_end, 17, 5
    XENO_ENTER_PM32 main32, 0x8000

    bits 32
main32:
    jmp kernel

    align 16
kernel:
    mov ecx, [bench_param0]     ; iterations
    mov esi, BUFFER
    xor eax, eax                ; the checksum
    mov ebx, 0x9e3779b9
    xor edi, edi
.loop:
    mov edx, [esi + edi * 4]
    add eax, edx
    rol eax, 5
    xor eax, ebx
    mov edx, [esi + edi * 4 + 4]
    lea ebx, [ebx + edx * 2 + 1]
    sub ebx, eax
    mov [esi + edi * 4], eax
    imul edx, edx, 31
    add eax, edx
    mov [esi + edi * 4 + 4], ebx
    ror ebx, 3
    xor ebx, eax
    inc edi
    and edi, 0x3ff
    dec ecx
    jnz .loop
kernel_end:
    ; Under Xeno: print the checksum (xeno-bench compares it with the bare
    ; engine's EAX) and exit.
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    XENO_EXIT 0

    XENO_PRINT32_ROUTINES
    XENO_FLAT_GDT
