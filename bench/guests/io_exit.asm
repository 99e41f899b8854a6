; io_exit: batches of OUTs to a port nothing claims, each batch preceded by a
; newline written straight to the UART's THR (one exit) that xeno-bench
; timestamps when the console byte arrives.
%include "bench.inc"

UNCLAIMED_PORT equ 0x1ee0

    org 0x8000
    BENCH_HEADER kernel, kernel_end, 3, 0
    XENO_ENTER_PM32 kernel, 0x8000

    bits 32
kernel:
    mov ebx, [bench_param0]     ; batches
.batch:
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al                  ; the batch marker
    mov ecx, [bench_param1]     ; exits per batch
    mov dx, UNCLAIMED_PORT
.exit:
    out dx, al
    dec ecx
    jnz .exit
    dec ebx
    jnz .batch
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al                  ; the end of the last batch
kernel_end:
    XENO_EXIT 0

    XENO_FLAT_GDT
