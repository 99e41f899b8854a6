; self_ipi_storm: one vcpu sends itself 5000 fixed IPIs (shorthand self)
; with IF = 1, each taken at once and EOIed, and 5000 NMIs (delivery mode
; NMI to its own APIC ID), each taken; counts must match exactly. Then the
; ICR nonsense: vector 3 (illegal: ESR bit 5, "send illegal vector", SDM
; Vol. 3A 11.5.3), the reserved delivery mode 011b, SMI, an INIT level
; de-assert to all including self, and a lowest-priority IPI to itself:
; none may end or wedge the domain, and only the last (vector 0x51) is
; delivered. Status 0.
%include "adv.inc"
%include "xeno_pc.inc"
ROUNDS equ 5000
    ADV_PM32 main
main:
    mov ecx, 0x50
    mov eax, ipi
    call adv_set_gate32
    mov ecx, 0x51
    mov eax, ipi51
    call adv_set_gate32
    mov ecx, 2
    mov eax, nmi
    call adv_set_gate32
    XENO_USE_APICS 0xff
    mov ecx, ROUNDS
    sti
.fixed:
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], 0x40050     ; fixed, vector 0x50, self
    nop
    loop .fixed
    cli
    cmp dword [adv_irqs], ROUNDS
    FAIL_IF ne, 2
    mov ecx, ROUNDS
    mov dword [XENO_LAPIC + XENO_APIC_ICR_HIGH], 0
.nmi:
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], 0x4400      ; NMI to APIC ID 0
    loop .nmi
    cmp dword [nmis], ROUNDS
    FAIL_IF ne, 3
    ; Nonsense.
    mov dword [XENO_LAPIC + XENO_APIC_ESR], 0
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], 0x40003     ; vector 3 to self: illegal
    mov dword [XENO_LAPIC + XENO_APIC_ESR], 0               ; latch the errors
    mov eax, [XENO_LAPIC + XENO_APIC_ESR]
    test eax, 1 << 5
    FAIL_IF z, 4
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], 0x40350     ; reserved delivery mode 011b
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], 0x40250     ; SMI
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], 0x80500     ; INIT level de-assert, all including self
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], 0x4151      ; lowest priority 0x51 to APIC ID 0
    sti
    nop
    cli
    cmp dword [irq51], 1
    FAIL_IF ne, 5
    cmp dword [adv_irqs], ROUNDS
    FAIL_IF ne, 6
    XENO_EXIT 0
ipi:
    inc dword [adv_irqs]
    XENO_LAPIC_EOI
    iret
ipi51:
    inc dword [irq51]
    XENO_LAPIC_EOI
    iret
nmi:
    inc dword [nmis]
    iret
    align 4
nmis:  dd 0
irq51: dd 0
    ADV_ROUTINES
