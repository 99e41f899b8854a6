; realmode_softint: software-interrupt service calls in real mode, the way
; DOS programs call BIOS/DOS services: INT 0x40 to a handler installed in the
; IVT, which counts the call, does a little work on the argument in AX and
; returns with IRET. 4 instructions per iteration in the caller and 5 in the
; service (IRET included): 9 per call. No mode switch anywhere.
; A newline straight to the UART's THR before and after the kernel brackets
; the measured window; then the guest checks the service's call count (ECX)
; against param0 and exits with status 0 when they agree (3 and the count
; printed when not).
%include "bench.inc"

SERVICE_VECTOR equ 0x40
RM_STACK       equ 0x7000

    org 0x8000
    BENCH_HEADER kernel, kernel_end, 9, 7
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, RM_STACK
    mov word [SERVICE_VECTOR * 4], service  ; the IVT entry: offset, segment
    mov word [SERVICE_VECTOR * 4 + 2], 0
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al                  ; the start marker
    jmp kernel

    align 16
kernel:
    mov ebp, [bench_param0]     ; calls (DS = 0)
    xor ecx, ecx                ; calls served, counted by the service
    xor dx, dx
    mov bx, 0x1234
    xor ax, ax
    test ebp, ebp
    jz kernel_end
.loop:
    mov ax, bp                  ; the argument
    int SERVICE_VECTOR
    dec ebp
    jnz .loop
kernel_end:
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al                  ; the end marker
    cmp ecx, [bench_param0]     ; every INT reached the service, every IRET came back
    jne .wrong
    XENO_EXIT 0
.wrong:
    mov eax, ecx                ; print the count, for the message
    call xeno_hex16
    mov al, 10
    call xeno_putc16
    XENO_EXIT 3

service:
    inc ecx
    add bx, ax
    rol bx, 1
    xor dx, bx
    iret

    XENO_PRINT16_ROUTINES
