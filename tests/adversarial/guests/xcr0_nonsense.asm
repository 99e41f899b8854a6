; xcr0_nonsense: XSETBV / XGETBV with values no processor accepts (SDM Vol.
; 1 13.3, Vol. 2C XSETBV): without CPUID XSAVE (leaf 1 ECX[26]), CR4.OSXSAVE
; is #GP and XSETBV #UD; with it and CR4.OSXSAVE set, XCR0 without x87 (bit
; 0), AVX without SSE (bits 2 without 1), a bit CPUID.(0DH,0):EDX:EAX does
; not offer, a bit 63, and ECX != 0 (XCR1 and up are not writable) are each
; #GP(0), and XGETBV of an XCR that does not exist is #GP(0); after each
; refusal XCR0 reads as before. Status 0 when all held.
%include "adv.inc"
    ADV_PM32 main
main:
    mov eax, 1
    cpuid
    bt ecx, 26
    jc .xsave
    mov eax, cr4
    or eax, 1 << 18
    TRY_GP 1, mov cr4, eax
    xor ecx, ecx
    mov eax, 1
    xor edx, edx
    TRY_UD 2, xsetbv
    XENO_EXIT 0
.xsave:
    mov eax, cr4
    or eax, (1 << 18) | (1 << 9)  ; OSXSAVE, OSFXSR
    TRY_OK 3, mov cr4, eax
    mov eax, 0x0d
    xor ecx, ecx
    cpuid
    mov [supported], eax
    mov [supported + 4], edx
    xor ecx, ecx
    mov eax, 3                  ; x87 | SSE: always fine
    xor edx, edx
    TRY_OK 4, xsetbv
    xor ecx, ecx
    xor eax, eax                ; no x87
    TRY_GP 5, xsetbv
    call same_xcr0
    mov eax, 2                  ; SSE without x87
    TRY_GP 5, xsetbv
    call same_xcr0
    mov eax, 5                  ; AVX without SSE
    TRY_GP 6, xsetbv
    call same_xcr0
    ; The lowest bit below 32 the CPU does not offer (there is always one).
    mov ebx, [supported]
    not ebx
    bsf ebx, ebx
    mov eax, 3
    bts eax, ebx
    xor edx, edx
    TRY_GP 7, xsetbv
    call same_xcr0
    mov eax, 3
    mov edx, 0x80000000         ; bit 63
    TRY_GP 8, xsetbv
    call same_xcr0
    mov ecx, 1                  ; XCR1
    mov eax, 3
    xor edx, edx
    TRY_GP 9, xsetbv
    mov ecx, 0xffffffff
    TRY_GP 9, xsetbv
    call same_xcr0
    mov ecx, 2
    TRY_GP 10, xgetbv
    mov ecx, 0x80000000
    TRY_GP 10, xgetbv
    XENO_EXIT 0

same_xcr0:
    push ecx
    xor ecx, ecx
    xgetbv
    pop ecx
    cmp eax, 3
    FAIL_IF ne, 11
    test edx, edx
    FAIL_IF nz, 11
    ret
    align 4
supported: dd 0, 0
    ADV_ROUTINES
