; ipi_storm_smp: smp=2; the AP sends fixed IPIs (vector 0x50) to the BSP as
; fast as it can, forever, and NMIs every 64th; the BSP takes 200 of the
; fixed ones (EOI each) and then ends with status 0, which the storm must
; not prevent. Also: the BSP checks its ISR is clear after the EOIs.
%include "adv_smp.inc"
TARGET equ 200
    ADV_SMP bsp, ap
bsp:
    mov ecx, 0x50
    mov eax, ipi
    call adv_set_gate32
    mov ecx, 2
    mov eax, nmi
    call adv_set_gate32
    call adv_start_ap
.wait:
    sti
    hlt
    cli
    cmp dword [adv_irqs], TARGET
    jb .wait
    mov eax, [0xfee00100 + 0x50 / 32 * 0x10]    ; ISR word of vector 0x50
    test eax, 1 << (0x50 % 32)
    FAIL_IF nz, 2
    XENO_EXIT 0
ipi:
    inc dword [adv_irqs]
    mov dword [ADV_APIC_EOI], 0
    iret
nmi:
    inc dword [nmis]
    iret
ap:
    xor ebx, ebx
.storm:
    mov dword [ADV_APIC_ICR_HI], 0
    mov dword [ADV_APIC_ICR_LO], 0x4050   ; fixed, vector 0x50, to APIC ID 0
    inc ebx
    test ebx, 63
    jnz .storm
    mov dword [ADV_APIC_ICR_LO], 0x4400   ; NMI to APIC ID 0
    jmp .storm
    align 4
nmis: dd 0
    ADV_ROUTINES
