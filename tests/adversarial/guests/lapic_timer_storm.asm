; lapic_timer_storm: the local APIC timer periodic with an initial count of
; 1 and divide-by-1 (a period of a few ns); the guest takes 1000 of its
; interrupts (each EOIed) and checks with the ACPI PM timer that they took
; at least 1000 x 200 us: the hypervisor stretches a periodic timer to its
; documented minimum period of 200 us (local_apic.hpp kMinPeriodicNs), so
; the storm cannot starve everything else. Status 0.
%include "adv.inc"
%include "xeno_pc.inc"
TARGET equ 1000
    ADV_PM32 main
main:
    mov ecx, 0x40
    mov eax, tick
    call adv_set_gate32
    XENO_USE_APICS 0xff
    mov dword [XENO_LAPIC + XENO_APIC_TIMER_DIV], 0xb      ; divide by 1
    mov dword [XENO_LAPIC + XENO_APIC_LVT_TIMER], 0x40 | (1 << 17)  ; periodic, vector 0x40
    call xeno_pm_read
    mov [start], eax
    mov dword [XENO_LAPIC + XENO_APIC_TIMER_INIT], 1
.wait:
    sti
    hlt
    cli
    cmp dword [adv_irqs], TARGET
    jb .wait
    mov dword [XENO_LAPIC + XENO_APIC_TIMER_INIT], 0       ; stop it
    call xeno_pm_read
    mov [now], eax
    XENO_PM_ELAPSED [now], [start]
    cmp eax, XENO_PM_FLOOR((TARGET - 1) * 200000)
    FAIL_IF b, 2
    XENO_EXIT 0
tick:
    inc dword [adv_irqs]
    XENO_LAPIC_EOI
    iret
    align 4
start: dd 0
now:   dd 0
    XENO_PM_ROUTINES
    ADV_ROUTINES
