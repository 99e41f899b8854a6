; init_to_bsp: smp=2; the AP sends INIT to the BSP (APIC ID 0) through its
; ICR. On a PC an INIT to the bootstrap processor is a reset of the
; machine: the domain ends as reset, with that reason, and nothing else.
%include "adv_smp.inc"
    ADV_SMP bsp, ap
bsp:
    call adv_start_ap
.spin:
    pause
    jmp .spin
ap:
    mov dword [ADV_APIC_ICR_HI], 0
    mov dword [ADV_APIC_ICR_LO], 0x4500   ; INIT, assert, to APIC ID 0
.spin:
    jmp .spin
    ADV_ROUTINES
