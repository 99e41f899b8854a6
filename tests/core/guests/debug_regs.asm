; MOV DR, MONITOR/MWAIT, RDPMC and WBINVD in a real-mode guest, and the
; CPUID view that goes with them (exit_debug_regs.cpp, exit_misc.cpp,
; exit_cpuid.cpp). Status 0: all checks passed; n: check n failed.
bits 16
org 0x8000
%include "checks.inc"
start:
    GUEST_START
    ; CPUID: MONITOR/MWAIT hidden, leaf 5 and leaf 0AH (no counters) empty
    mov eax, 1
    cpuid
    test ecx, 1 << 3
    CHECK 1
    mov eax, 5
    cpuid
    or eax, ebx
    or eax, ecx
    or eax, edx
    CHECK 2
    mov eax, 0xa
    cpuid
    or eax, ebx
    or eax, ecx
    or eax, edx
    CHECK 3
    ; DR0-DR3 read back what was written
    mov eax, 0x12345678
    mov dr0, eax
    mov eax, 0x9abcdef0
    mov dr3, eax
    mov ebx, dr0
    cmp ebx, 0x12345678
    CHECK 4
    mov ebx, dr3
    cmp ebx, 0x9abcdef0
    CHECK 5
    ; DR7: bit 10 reads 1, bits 12, 14, 15 read 0
    mov eax, 0x0000d001
    mov dr7, eax
    mov ebx, dr7
    cmp ebx, 0x00000401
    CHECK 6
    ; DR6: only B0-B3, BD, BS, BT are written; DR4 is DR6 while CR4.DE = 0
    mov eax, 0x0000000f
    mov dr6, eax
    mov ebx, dr4
    cmp ebx, 0xffff0fff
    CHECK 7
    ; CR4.DE = 1: DR4 and DR5 raise #UD
    mov eax, cr4
    or eax, 1 << 3
    mov cr4, eax
    EXPECT_FAULT .after_dr5
    mov eax, dr5
.after_dr5:
    FAULTED 6, 8
    ; DR7.GD: the next MOV DR raises #DB with DR6.BD set, and GD is cleared
    mov eax, 0x00002401
    mov dr7, eax
    EXPECT_FAULT .after_gd
    mov eax, dr0
.after_gd:
    FAULTED 1, 9
    mov eax, dr6
    test eax, 1 << 13
    setz al
    test al, al
    CHECK 10
    mov eax, dr7
    test eax, 1 << 13
    CHECK 11
    ; MONITOR and MWAIT raise #UD, RDPMC #GP(0); WBINVD completes
    EXPECT_FAULT .after_monitor
    monitor
.after_monitor:
    FAULTED 6, 12
    EXPECT_FAULT .after_mwait
    mwait
.after_mwait:
    FAULTED 6, 13
    EXPECT_FAULT .after_rdpmc
    xor ecx, ecx
    rdpmc
.after_rdpmc:
    FAULTED 13, 14
    wbinvd
    GUEST_PASS
FAULT_HANDLERS
