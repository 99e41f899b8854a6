; The GDB stub's 2-vcpu test guest. The BSP starts the AP (INIT, SIPI, SIPI
; to all excluding self, vector 0x09: the trampoline at 0x9000) and waits
; for the counter at 0xa000 to reach 3; the AP enters 32-bit protected mode
; with flat segments and adds 1 to the counter three times, at addresses
; the tests name:
;   0x8200 the BSP's wait loop
;   0x9000 the AP's first instruction (real mode, CS=0x0900 IP=0)
;   0x9200 the AP's loop: lock add dword [0xa000], 1 (8 bytes); dec ecx; jnz
;   0xa000 the counter
%include "xeno_irq.inc"

ICR_INIT_ALL_BUT_SELF   equ 0xc4500
ICR_SIPI_ALL_BUT_SELF   equ 0xc4600 | 0x09
COUNTER                 equ 0xa000

    org 0x8000

start:
    XENO_ENTER_PM32 bsp_main, 0x7000

    times 0x100 - ($ - $$) db 0x90
    bits 32
bsp_main:                           ; 0x8100
    mov dword [XENO_LAPIC + XENO_APIC_SVR], 0x1ff
    mov dword [XENO_LAPIC + XENO_APIC_ICR_HIGH], 0
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_INIT_ALL_BUT_SELF
    mov ecx, 1000
    call xeno_spin_ecx
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_SIPI_ALL_BUT_SELF
    mov ecx, 100
    call xeno_spin_ecx
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_SIPI_ALL_BUT_SELF
    jmp bsp_wait

    times 0x200 - ($ - $$) db 0x90
bsp_wait:                           ; 0x8200
    pause
    cmp dword [COUNTER], 3
    jb bsp_wait
    mov esi, message
    call xeno_puts32
    XENO_EXIT 0

    XENO_SPIN_ROUTINES
    XENO_PRINT32_ROUTINES
    XENO_FLAT_GDT

message:
    db "gdb smp guest done", 10, 0

    times 0x1000 - ($ - $$) db 0
    bits 16
ap_start:                           ; 0x9000
    cli
    xor ax, ax
    mov ds, ax
    lgdt [xeno_gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword XENO_CODE32_SEL:ap_pm32

    times 0x1100 - ($ - $$) db 0x90
    bits 32
ap_pm32:                            ; 0x9100
    mov ax, XENO_DATA32_SEL
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x6000
    mov ecx, 3
    jmp ap_loop

    times 0x1200 - ($ - $$) db 0x90
ap_loop:                            ; 0x9200
    lock add dword [COUNTER], 1
    dec ecx
    jnz ap_loop
.halt:
    cli
    hlt
    jmp .halt

    times 0x2000 - ($ - $$) db 0
counter:                            ; 0xa000
    dd 0
