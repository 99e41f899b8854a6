; XSETBV, XGETBV and the XSAVE leaf of CPUID in a real-mode guest
; (exit_xsetbv.cpp, exit_cpuid.cpp). Status 0: all checks passed.
bits 16
org 0x8000
%include "checks.inc"
start:
    GUEST_START
    ; Without CR4.OSXSAVE: CPUID.1:ECX.OSXSAVE reads 0, XSETBV raises #UD
    mov eax, 1
    cpuid
    test ecx, 1 << 27
    CHECK 1
    EXPECT_FAULT .after_ud
    xor ecx, ecx
    xor edx, edx
    mov eax, 3
    xsetbv
.after_ud:
    FAULTED 6, 2
    mov eax, cr4
    or eax, 1 << 18
    mov cr4, eax
    mov eax, 1
    cpuid
    test ecx, 1 << 27
    setz al
    test al, al
    CHECK 3
    ; XCR0 from reset: x87 only
    xor ecx, ecx
    xgetbv
    cmp eax, 1
    CHECK 4
    ; x87 + SSE: XGETBV reads it back, the XSAVE area is 576 bytes
    xor ecx, ecx
    xor edx, edx
    mov eax, 3
    xsetbv
    xor ecx, ecx
    xgetbv
    cmp eax, 3
    CHECK 5
    mov eax, 0xd
    xor ecx, ecx
    cpuid
    cmp ebx, 576
    CHECK 6
    mov [supported], eax
    ; AVX where leaf 0DH offers it: 256 bytes more
    test dword [supported], 1 << 2
    jz .no_avx
    xor ecx, ecx
    xor edx, edx
    mov eax, 7
    xsetbv
    mov eax, 0xd
    xor ecx, ecx
    cpuid
    cmp ebx, 576 + 256
    CHECK 7
    ; AVX without SSE: #GP(0), XCR0 unchanged
    EXPECT_FAULT .after_avx_only
    xor ecx, ecx
    xor edx, edx
    mov eax, 5
    xsetbv
.after_avx_only:
    FAULTED 13, 8
.no_avx:
    ; x87 clear: #GP(0)
    EXPECT_FAULT .after_no_x87
    xor ecx, ecx
    xor edx, edx
    mov eax, 2
    xsetbv
.after_no_x87:
    FAULTED 13, 9
    ; a component the CPU does not support (bit 9, PKRU, on neither profile): #GP(0)
    EXPECT_FAULT .after_unsupported
    xor ecx, ecx
    xor edx, edx
    mov eax, (1 << 9) | 3
    xsetbv
.after_unsupported:
    FAULTED 13, 10
    ; ECX = 1 names no writable XCR: #GP(0)
    EXPECT_FAULT .after_xcr1
    mov ecx, 1
    xor edx, edx
    mov eax, 3
    xsetbv
.after_xcr1:
    FAULTED 13, 11
    ; none of the refused values was loaded
    xor ecx, ecx
    xgetbv
    mov ebx, 3
    test dword [supported], 1 << 2
    jz .expect
    mov ebx, 7
.expect:
    cmp eax, ebx
    CHECK 12
    GUEST_PASS
supported: dd 0
FAULT_HANDLERS
