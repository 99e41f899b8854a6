; An AP sends INIT to itself (by its own APIC ID): it stops at once and waits
; for a SIPI (the instruction after the ICR write never runs); the BSP's second
; SIPI starts it again from the trampoline. smp=2. Status 0 when the AP started
; twice and never ran past its INIT; 1 otherwise.
%include "xeno.inc"

APIC_ICR_LOW  equ 0xfee00300
APIC_ICR_HIGH equ 0xfee00310
APIC_SVR      equ 0xfee000f0

    org 0x8000
start:
    jmp bsp

    times 0x1000 - ($ - $$) db 0
    bits 16
ap:                                     ; 0x9000: CS=0x0900, IP=0
    cli
    xor ax, ax
    mov ds, ax
    lgdt [xeno_gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword 0x08:ap32
    bits 32
ap32:
    mov ax, 0x10
    mov ds, ax
    mov ss, ax
    lock inc dword [starts]
    cmp dword [starts], 2
    je .second
    mov dword [APIC_SVR], 0x1ff
    mov dword [APIC_ICR_HIGH], 1 << 24  ; its own APIC ID
    mov dword [APIC_ICR_LOW], 0x4500    ; INIT, assert, physical
    mov byte [after_init], 1            ; never runs: INIT stopped the processor
.spin:
    jmp .spin
.second:
    mov byte [done], 1
.halt:
    cli
    hlt
    jmp .halt

    bits 16
bsp:
    XENO_ENTER_PM32 bsp32, 0x7000
    bits 32
bsp32:
    mov dword [APIC_SVR], 0x1ff
    mov dword [APIC_ICR_HIGH], 1 << 24
    mov dword [APIC_ICR_LOW], 0x4500    ; INIT to AP 1
    mov dword [APIC_ICR_LOW], 0x4609    ; SIPI, vector 9
.wait1:
    cmp dword [starts], 1
    jb .wait1
    mov ecx, 1000000                     ; the AP sends its INIT meanwhile
.delay:
    dec ecx
    jnz .delay
    mov dword [APIC_ICR_LOW], 0x4609    ; SIPI again: a processor in wait-for-SIPI starts
.wait2:
    cmp byte [done], 1
    jne .wait2
    cmp dword [starts], 2
    jne .fail
    cmp byte [after_init], 0
    jne .fail
    XENO_EXIT 0
.fail:
    XENO_EXIT 1

    XENO_FLAT_GDT
    align 4
starts:     dd 0
after_init: db 0
done:       db 0
