; efer_bits: IA32_EFER nonsense, first in 32-bit protected mode with paging
; off, then in 64-bit mode. Reserved bits (1-7, 9, 12-63; bit 12 is AMD's
; SVME) are #GP(0) (SDM Vol. 4 Table 2-2, WRMSR); NXE without CPUID NX is
; #GP; changing LME while CR0.PG = 1 is #GP(0) (SDM Vol. 3A 9.8.5). After
; each refused write EFER reads as before. Status 0 when all held.
%include "adv.inc"
    ADV_PM32 main
main:
    mov ecx, IA32_EFER
    rdmsr
    mov [efer], eax
    mov esi, reserved_bits
.bit:
    mov ecx, IA32_EFER
    mov eax, [efer]
    xor edx, edx
    mov ebx, [esi]
    cmp ebx, 32
    jae .high
    bts eax, ebx
    jmp .try
.high:
    sub ebx, 32
    bts edx, ebx
.try:
    TRY_GP 1, wrmsr
    call same_efer
    add esi, 4
    cmp esi, reserved_end
    jb .bit
    ; NXE: allowed exactly when CPUID.80000001H:EDX[20] says NX.
    mov eax, 0x80000001
    cpuid
    bt edx, 20
    jc .nx
    mov ecx, IA32_EFER
    mov eax, [efer]
    or eax, 1 << 11
    xor edx, edx
    TRY_GP 3, wrmsr
    call same_efer
    jmp .long
.nx:
    mov ecx, IA32_EFER
    mov eax, [efer]
    or eax, 1 << 11
    xor edx, edx
    TRY_OK 4, wrmsr
    mov eax, [efer]
    xor edx, edx
    wrmsr
.long:
    ; Paging on in IA-32e mode, then LME off with paging on: #GP.
    call adv_long_tables
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, ADV_PML4
    mov cr3, eax
    mov ecx, IA32_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    jmp ADV_CODE64:long64
    bits 64
long64:
    call adv_idt64_setup        ; IA-32e mode takes 64-bit gates only
    mov ecx, IA32_EFER
    rdmsr
    mov [efer], eax
    test eax, 1 << 10           ; LMA
    FAIL_IF z, 5
    and eax, ~EFER_LME
    TRY_GP 6, wrmsr
    call same_efer64
    ; And the reserved bits again, in IA-32e mode.
    mov esi, reserved_bits
.bit2:
    mov ecx, IA32_EFER
    mov eax, [efer]
    xor edx, edx
    mov ebx, [esi]
    cmp ebx, 32
    jae .high2
    bts eax, ebx
    jmp .try2
.high2:
    sub ebx, 32
    bts edx, ebx
.try2:
    TRY_GP 7, wrmsr
    call same_efer64
    add esi, 4
    cmp esi, reserved_end
    jb .bit2
    XENO_EXIT 0

same_efer64:
    push rcx
    mov ecx, IA32_EFER
    rdmsr
    pop rcx
    cmp eax, [efer]
    FAIL_IF ne, 8
    test edx, edx
    FAIL_IF nz, 8
    ret
    bits 32

; EFER must still read [efer] (status 2 otherwise).
same_efer:
    push ecx
    mov ecx, IA32_EFER
    rdmsr
    pop ecx
    cmp eax, [efer]
    FAIL_IF ne, 2
    test edx, edx
    FAIL_IF nz, 2
    ret

    align 4
efer:      dd 0
reserved_bits: dd 1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 20, 24, 31, 32, 40, 48, 63
reserved_end:
    ADV_ROUTINES
