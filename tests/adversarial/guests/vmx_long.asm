; vmx_long: every VMX instruction and VMFUNC in 64-bit mode (vmx_insns.inc:
; #UD each), then CR4.VMXE: #GP(0), CR4 unchanged. Status 0 when all held.
%include "adv.inc"
%include "vmx_insns.inc"
    ADV_LONG main
main:
    VMX_INSNS_UD 1, rax
    mov rax, cr4
    or rax, 1 << 13
    TRY_GP 13, mov cr4, rax
    mov rax, cr4
    test eax, 1 << 13
    FAIL_IF nz, 14
    XENO_EXIT 0
    VMX_SCRATCH
    ADV_ROUTINES
