; msr_noncanonical: MSR values a processor refuses with #GP(0) (SDM Vol. 4
; and Vol. 2B WRMSR), each of which would make a VM entry fail if the
; hypervisor took it into the guest state unchecked: non-canonical
; addresses in FS_BASE, GS_BASE, KERNEL_GS_BASE, LSTAR, CSTAR,
; SYSENTER_ESP and SYSENTER_EIP; a reserved memory type (2, 3) in IA32_PAT;
; reserved bits of IA32_APIC_BASE. After each refusal the MSR reads as
; before. IA32_DEBUGCTL, which the hypervisor does not offer, is #GP to
; read and write. Status 0 when all held (and the guest still runs).
%include "adv.inc"
    ADV_LONG main
main:
    mov rsi, canonical_msrs
.msr:
    mov ecx, [rsi]
    rdmsr
    mov r8d, eax
    mov r9d, edx
    mov eax, 0
    mov edx, 0x00008000                   ; 0x0000800000000000: not canonical
    TRY_GP 2, wrmsr
    mov edx, 0x7fff0000
    TRY_GP 2, wrmsr
    call same_msr
    add rsi, 4
    cmp rsi, canonical_end
    jb .msr
    ; IA32_PAT: type 2 in PA0, type 3 in PA7, a reserved bit in PA3.
    mov ecx, 0x277
    rdmsr
    mov r8d, eax
    mov r9d, edx
    mov eax, 0x00070402
    mov edx, 0x00070406
    TRY_GP 3, wrmsr
    mov eax, 0x00070406
    mov edx, 0x03070406
    TRY_GP 3, wrmsr
    mov eax, 0x08070406
    mov edx, 0x00070406
    TRY_GP 3, wrmsr
    call same_msr
    ; IA32_DEBUGCTL is not among the MSRs the hypervisor offers (exit_msr.cpp:
    ; an MSR it does not know is #GP, as an absent one): read and write #GP.
    mov ecx, 0x1d9
    TRY_GP 4, rdmsr
    xor eax, eax
    xor edx, edx
    TRY_GP 4, wrmsr
    ; IA32_APIC_BASE: bits 7:0 but BSP, bit 9, bits above MAXPHYADDR.
    mov ecx, 0x1b
    rdmsr
    mov r8d, eax
    mov r9d, edx
    mov eax, r8d
    or eax, 1                             ; bit 0: reserved
    mov edx, r9d
    TRY_GP 5, wrmsr
    mov eax, r8d
    or eax, 1 << 9                        ; bit 9: reserved
    TRY_GP 5, wrmsr
    mov eax, r8d
    mov edx, 0x80000000                   ; bit 63: past MAXPHYADDR
    TRY_GP 5, wrmsr
    call same_msr
    mov eax, 0xfee00030
    mov eax, [rax]                        ; the local APIC is still where it was
    and eax, 0xff
    test eax, eax
    FAIL_IF z, 6
    XENO_EXIT 0

; ECX = the MSR, R9:R8 what it read before: status 7 otherwise.
same_msr:
    rdmsr
    cmp eax, r8d
    FAIL_IF ne, 7
    cmp edx, r9d
    FAIL_IF ne, 7
    ret
    align 4
; FS_BASE, GS_BASE, KERNEL_GS_BASE, LSTAR, CSTAR, SYSENTER_ESP, SYSENTER_EIP
canonical_msrs: dd 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000082, 0xc0000083, 0x175, 0x176
canonical_end:
    ADV_ROUTINES
