; The guest measures its TSC against the ACPI PM timer (port 0x608,
; 3.579545 MHz, 24 bits) over a busy interval with no HLT, and prints on the
; UART: CPUID.16H:EAX (the base frequency in MHz, 0 where the CPU has no
; leaf 16H), the PM-timer ticks and the TSC ticks of the interval, in hex.
bits 16
org 0x8000
ITERATIONS equ 2500000          ; 5 M instructions: 5 ms of virtual time
start:
    xor ax, ax
    mov ds, ax
    xor eax, eax
    cpuid
    xor edi, edi
    cmp eax, 0x16
    jb .no_leaf_16
    mov eax, 0x16
    cpuid
    mov edi, eax
.no_leaf_16:
    mov eax, edi
    call print_hex
    mov dx, 0x608
    in eax, dx
    mov esi, eax
    rdtsc
    mov ebp, eax
    mov ecx, ITERATIONS
.spin:
    dec ecx
    jnz .spin
    mov dx, 0x608
    in eax, dx
    sub eax, esi
    and eax, 0xffffff
    mov esi, eax
    rdtsc
    sub eax, ebp
    mov ebp, eax
    mov eax, esi
    call print_hex
    mov eax, ebp
    call print_hex
    mov al, 10
    call putc
    mov al, 0
    out 0xf4, al
    hlt

; EAX as 8 hex digits and a space.
print_hex:
    mov cx, 8
.digit:
    rol eax, 4
    push eax
    and al, 0xf
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 'a' - '0' - 10
.out:
    call putc
    pop eax
    loop .digit
    mov al, ' '
    jmp putc

putc:
    push ax
    mov dx, 0x3fd
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop ax
    mov dx, 0x3f8
    out dx, al
    ret
