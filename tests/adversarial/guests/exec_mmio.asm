; exec_mmio: a jump into the local APIC page (0xfee00000): instructions
; fetched from MMIO, which no device can supply. The hypervisor must end the
; domain (crash, with the fetch address in its reason), not run the bus's
; all ones as code or fail itself.
%include "adv.inc"
    ADV_PM32 main
main:
    mov eax, 0xfee00000
    jmp eax
    ADV_ROUTINES
