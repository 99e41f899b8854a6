; msr_vmx_control: the MSRs a guest would use to turn VMX on. The guest's
; CPUID has no VMX, so IA32_FEATURE_CONTROL (0x3a) reads with only its lock
; bit set (VMX disabled and locked, as firmware leaves a machine without
; VMX) and a write to a locked IA32_FEATURE_CONTROL is #GP(0) (SDM Vol. 4,
; Table 2-2; Vol. 3C 23.7); the VMX capability MSRs 0x480-0x491 do not
; exist for it: RDMSR and WRMSR of each are #GP(0). Status 0 when all held.
%include "adv.inc"
    ADV_PM32 main
main:
    mov ecx, 0x3a
    TRY_OK 1, rdmsr
    cmp eax, 1                  ; lock bit only: no VMX inside or outside SMX
    FAIL_IF ne, 2
    test edx, edx
    FAIL_IF nz, 2
    mov ecx, 0x3a
    mov eax, 5                  ; lock + VMX outside SMX
    xor edx, edx
    TRY_GP 3, wrmsr
    xor eax, eax                ; unlock
    TRY_GP 4, wrmsr
    rdmsr
    cmp eax, 1
    FAIL_IF ne, 5
    mov ecx, 0x480
.cap:
    TRY_GP 6, rdmsr
    xor eax, eax
    xor edx, edx
    TRY_GP 7, wrmsr
    mov eax, 0xffffffff
    mov edx, eax
    TRY_GP 8, wrmsr
    inc ecx
    cmp ecx, 0x492
    jb .cap
    XENO_EXIT 0
    ADV_ROUTINES
