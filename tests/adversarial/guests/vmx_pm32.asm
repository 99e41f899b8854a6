; vmx_pm32: every VMX instruction and VMFUNC in 32-bit protected mode at
; CPL 0, then an attempt to set CR4.VMXE, which the guest's CPUID does not
; offer: a reserved CR4 bit, #GP(0) (SDM Vol. 3A 2.5 and MOV CR4). Status 0
; when every instruction raised #UD and the CR4 write #GP, else the number
; of the check that did not.
%include "adv.inc"
%include "vmx_insns.inc"
    ADV_PM32 main
main:
    mov eax, 1
    cpuid
    test ecx, 1 << 5            ; the guest must not see VMX
    FAIL_IF nz, 20
    VMX_INSNS_UD 1, eax
    mov eax, cr4
    or eax, 1 << 13             ; CR4.VMXE
    TRY_GP 13, mov cr4, eax
    mov eax, cr4
    test eax, 1 << 13
    FAIL_IF nz, 14
    XENO_EXIT 0
    VMX_SCRATCH
    ADV_ROUTINES
