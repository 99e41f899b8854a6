; realmode_compute: a checksum in real mode, 16-bit code only and no mode
; switch: it walks two 64 KiB buffers a word at a time, one through DS and
; one through ES, mixing ADD/ADC/ROL/XOR and writing both back, so every pass
; sees new data. 13 instructions per iteration; SI wraps at 64 KiB by itself.
; xeno-bench runs it under Xeno (the guest starts in real mode: skylake runs
; it with unrestricted guest, penryn in virtual-8086 mode) and the kernel's
; bytes on a bare Unicorn engine in 16-bit mode, and the guest compares its
; checksum with the bare engine's (param1): exit status 0 when they agree.
; A newline straight to the UART's THR before and after the kernel brackets
; the measured window (xeno-bench timestamps the console bytes).
%include "bench.inc"

SRC_SEG     equ 0x1000          ; 64 KiB at 0x10000, through DS
DST_SEG     equ 0x2000          ; 64 KiB at 0x20000, through ES
RM_STACK    equ 0x7000

    org 0x8000
    BENCH_HEADER kernel, kernel_end, 13, 11
    cli
    xor ax, ax
    mov ss, ax
    mov sp, RM_STACK
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al                  ; the start marker
    jmp kernel

    align 16
kernel:
    mov ebp, [cs:bench_param0]  ; iterations
    mov ax, SRC_SEG
    mov ds, ax
    mov ax, DST_SEG
    mov es, ax
    xor si, si
    xor ax, ax                  ; checksum: DX (high word) : AX (low word)
    xor dx, dx
    mov bx, 0x9e37
    test ebp, ebp
    jz kernel_end
.loop:
    mov cx, [si]                ; DS:SI
    add ax, cx
    adc dx, bx
    rol ax, 3
    xor ax, dx
    mov di, [es:si]             ; ES:SI
    add di, ax
    mov [es:si], di
    xor cx, di
    mov [si], cx
    add si, 2
    dec ebp
    jnz .loop
kernel_end:
    ; Under Xeno: the end marker, then the checksum DX:AX against param1 (the
    ; bare engine's result, patched in by xeno-bench): a comparison costs
    ; the same instructions whatever the value, where printing it would not,
    ; and xeno-bench subtracts a run with 0 iterations from this one.
    mov bx, ax
    mov cx, dx
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al
    cmp bx, [cs:bench_param1]
    jne .wrong
    cmp cx, [cs:bench_param1 + 2]
    jne .wrong
    XENO_EXIT 0
.wrong:
    mov ax, cx                  ; print what it got, for the message
    shl eax, 16
    mov ax, bx
    call xeno_hex16
    mov al, 10
    call xeno_putc16
    XENO_EXIT 3

    XENO_PRINT16_ROUTINES
