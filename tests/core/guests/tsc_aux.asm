; RDTSCP returns the guest's IA32_TSC_AUX (msr_load_list.hpp): write it,
; read it back through RDTSCP and RDMSR. Status 0: all checks passed.
bits 16
org 0x8000
%include "checks.inc"
start:
    GUEST_START
    mov ecx, 0xc0000103
    mov eax, 0x00c0ffee
    xor edx, edx
    wrmsr
    rdtscp
    cmp ecx, 0x00c0ffee
    CHECK 1
    mov ecx, 0xc0000103
    rdmsr
    cmp eax, 0x00c0ffee
    CHECK 2
    ; bits 63:32 are reserved: #GP(0), the value stays
    EXPECT_FAULT .after_high
    mov ecx, 0xc0000103
    mov edx, 1
    wrmsr
.after_high:
    FAULTED 13, 3
    rdtscp
    cmp ecx, 0x00c0ffee
    CHECK 4
    GUEST_PASS
FAULT_HANDLERS
