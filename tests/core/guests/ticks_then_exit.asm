; Idles on a timer: the 8254 PIT at its slowest rate (~18.2 Hz, a tick every
; ~55 ms of virtual time) through the 8259A, HLT between ticks, then exits
; with status 5 after 5 ticks (~275 ms of virtual time, few instructions).
; A virtual-time limit below that stops it while the host idles.
bits 16
org 0x8000
TICKS equ 5
start:
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    mov word [0x20 * 4], isr
    mov word [0x20 * 4 + 2], 0
    mov al, 0x11                ; 8259A: ICW1 (edge, cascade, ICW4)
    out 0x20, al
    mov al, 0x20                ; ICW2: vectors 0x20-0x27
    out 0x21, al
    mov al, 0x04                ; ICW3
    out 0x21, al
    mov al, 0x01                ; ICW4: 8086 mode
    out 0x21, al
    mov al, 0xfe                ; only IRQ0
    out 0x21, al
    mov al, 0x34                ; PIT channel 0, lobyte/hibyte, mode 2
    out 0x43, al
    xor al, al                  ; count 0: 65536
    out 0x40, al
    out 0x40, al
    sti
.wait:
    hlt
    cmp word [ticks], TICKS
    jb .wait
    cli
    mov al, TICKS
    out 0xf4, al
    hlt

isr:
    push ax
    inc word [ticks]
    mov al, 0x20                ; EOI
    out 0x20, al
    pop ax
    iret

ticks: dw 0
