; 2000 rounds of five instructions, one of them a CPUID (a VM exit), then
; exits with status 3: about 10,000 guest instructions and 2000 exits. An
; instruction limit below that stops it at a block start or at an exit.
bits 16
org 0x8000
    mov bp, 2000                ; (CPUID writes EAX, EBX, ECX and EDX)
.round:
    xor eax, eax
    cpuid
    add si, ax
    dec bp
    jnz .round
    mov al, 3
    out 0xf4, al
    hlt
