; stack_mmio: ESP inside the local APIC page (0xfee00400), paging off, then
; INT3: the exception frame would be written into device registers. The
; hypervisor ends the domain rather than let event delivery write MMIO.
%include "adv.inc"
    ADV_PM32 main
main:
    mov esp, 0xfee00400
    int3
    XENO_EXIT 1
    ADV_ROUTINES
