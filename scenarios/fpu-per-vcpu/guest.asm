; fpu-per-vcpu: two vcpus of one domain keep their own x87 and SSE registers
; while they share one physical processor.
;
; VM entries and exits do not switch the x87/SSE registers (SDM Vol. 3C 26,
; 27: only what the VMCS holds), so when vcpus are time-sliced on one
; processor -- always in the sim build, and in the hw build whenever vcpus
; outnumber processors (here one Bochs processor) -- the hypervisor has to
; save and restore them itself (hal::run: FXRSTOR at its start, FXSAVE on
; the way out; GuestRegs::fpu). Without that, one vcpu sees the other's.
;
; Each vcpu, in 32-bit protected mode with CR0.MP set, CR0.EM and CR0.TS
; clear and CR4.OSFXSR (and OSXMMEXCPT) set:
;   1. records the state it finds before touching any of it: FNSTCW must be
;      0x037f and STMXCSR 0x1f80 (what firmware leaves after FNINIT, what
;      the hypervisor gives every vcpu);
;   2. loads its own values: XMM0-XMM7 (128 distinct dwords per vcpu), MXCSR
;      (its own rounding control; the AP also FZ), the x87 control word
;      (its own rounding and precision control) and its own number of x87
;      stack values (BSP 3, AP 4: a different TOP in the status word) with
;      FLD m80;
;   3. re-checks all of them ITERATIONS times, about 110 instructions an
;      iteration: each XMM register by PCMPEQD with its expected value and
;      PMOVMSKB (the register is saved first and put back after, so a
;      corrupted register stays corrupted), STMXCSR, FNSTCW, FNSTSW (TOP, C1,
;      the exception flags, ES, B; not C0/C2/C3, which FLD and FSTP leave
;      undefined) and every stack value by FLD ST(i), FSTP m80 and a compare
;      of the 80 bits. A mismatch counts per register class; the first value
;      seen is kept.
; The loops run about 6.7 M instructions per vcpu; with [run] quantum_us =
; 100 the scheduler switches between the two vcpus about 150 times in the
; sim build (1 ns per instruction) while both hold their values, and about
; 1,700 times in Bochs (100 M instructions per emulated second).
;
; The BSP starts the AP with INIT-SIPI-SIPI (as scenarios/smp) after it has
; loaded its own values, so the AP's first look at its registers happens
; while the BSP's are live. Reporting is serialised through memory (spins,
; no VM exits but PAUSE, whose exits the trace comparison drops): the BSP
; prints its lines after its loop ("ok bsp-<class>" / "FAIL bsp-<class>
; got=<first bad value>"), then the AP its own ("ap-<class>"), then the BSP
; the summary; status 0 only if every check of both vcpus passed.
;
; Both vcpus run their loops with IF=1 (an IDT where every vector is a
; failure): Bochs 2.7 does not make a host interrupt exit a guest that runs
; with IF=0 (scenarios/smp/guest.asm), and the host timer's interrupt is what
; ends a time slice on the one processor. Nothing is ever sent to the guest.
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

ICR_INIT         equ 0x0500
ICR_STARTUP      equ 0x0600
ICR_ASSERT       equ 0x4000
ICR_ALL_BUT_SELF equ 0xc0000
SIPI_VECTOR      equ 0x09              ; the trampoline at 0x9000

ITERATIONS       equ 60000
BSP_STACK        equ 0x7000
AP_STACK         equ 0x6000

CR0_MP           equ 1 << 1
CR0_EM           equ 1 << 2
CR0_TS           equ 1 << 3
CR0_NE           equ 1 << 5
CR4_OSFXSR       equ 1 << 9
CR4_OSXMMEXCPT   equ 1 << 10

INITIAL_FCW      equ 0x037f            ; after FNINIT
INITIAL_MXCSR    equ 0x1f80            ; at reset: all exceptions masked
FSW_COMPARED     equ 0xffff & ~0x4500  ; all but C3 (14), C2 (10), C0 (8)

; The per-vcpu block EBP points at (16-byte aligned).
struc VCPU
    .xmm:        resb 8 * 16           ; XMM0-XMM7's values
    .st:         resb 4 * 16           ; ST(0)-ST(3)'s values, 10 bytes each
    .tmp:        resb 16
    .mxcsr:      resd 1
    .fcw:        resd 1
    .fsw:        resd 1                ; & FSW_COMPARED
    .nst:        resd 1                ; stack values: 1 to 4
    .init_fcw:   resd 1                ; what FNSTCW gave before anything was loaded
    .init_mxcsr: resd 1                ; ... STMXCSR
    .kgs:        resd 2                ; IA32_KERNEL_GS_BASE's value (low, high)
    .bad:        resd 2 * 6            ; per class: mismatches, the first value seen
    .iterations: resd 1
endstruc
BAD_XMM   equ VCPU.bad + 0 * 8
BAD_MXCSR equ VCPU.bad + 1 * 8
BAD_FCW   equ VCPU.bad + 2 * 8
BAD_FSW   equ VCPU.bad + 3 * 8
BAD_ST    equ VCPU.bad + 4 * 8
BAD_KGS   equ VCPU.bad + 5 * 8
MSR_KERNEL_GS_BASE equ 0xc0000102     ; passed through: the guest's WRMSR/RDMSR run natively

; REPORT "prefix": one check line per class of the block at EBP; a failure
; prints the first value seen (xmm: register << 16 | PMOVMSKB's mask; x87
; stack: ST index << 16 | its sign and exponent).
%macro REPORT_CLASS 2
    cmp dword [ebp + %2], 0
    mov eax, [ebp + %2 + 4]             ; (MOV keeps the flags)
    CHECK32 %1
%endmacro
%macro REPORT 1
    mov eax, [ebp + VCPU.init_fcw]
    cmp eax, INITIAL_FCW
%strcat %%name %1, "-initial-fcw-037f"
    CHECK32 %%name
    mov eax, [ebp + VCPU.init_mxcsr]
    cmp eax, INITIAL_MXCSR
%strcat %%name %1, "-initial-mxcsr-1f80"
    CHECK32 %%name
    mov eax, [ebp + VCPU.iterations]
    cmp eax, ITERATIONS
%strcat %%name %1, "-iterations"
    CHECK32 %%name
    %strcat %%name %1, "-xmm0-7"
    REPORT_CLASS %%name, BAD_XMM
    %strcat %%name %1, "-mxcsr"
    REPORT_CLASS %%name, BAD_MXCSR
    %strcat %%name %1, "-x87-control-word"
    REPORT_CLASS %%name, BAD_FCW
    %strcat %%name %1, "-x87-status-word"
    REPORT_CLASS %%name, BAD_FSW
    %strcat %%name %1, "-x87-stack"
    REPORT_CLASS %%name, BAD_ST
    %strcat %%name %1, "-kernel-gs-base"
    REPORT_CLASS %%name, BAD_KGS
%endmacro

    org 0x8000

start:
    jmp bsp_start

; ---- the AP trampoline: 0x9000, entered in real mode with CS=0x0900, IP=0 ----
    times 0x1000 - ($ - $$) db 0
    bits 16
ap_start:
    cli
    xor ax, ax
    mov ds, ax
    lgdt [xeno_gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword XENO_CODE32_SEL:ap_pm32

    bits 32
ap_pm32:
    mov ax, XENO_DATA32_SEL
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov esp, AP_STACK
    lidt [xeno_idt32_desc]              ; the BSP's: every vector is a failure
    sti
    mov ebp, vcpu_ap
    call fpu_enable
    call record_initial
    call load_values
    call check_loop
.wait_turn:                             ; the BSP reports first
    cmp byte [bsp_reported], 0
    jne .report
    pause
    jmp .wait_turn
.report:
    REPORT "ap"
    mov byte [ap_reported], 1
.halt:
    cli
    hlt                                 ; IF=0: halted for good (the BSP ends the run)
    jmp .halt

; ---- the BSP ----
    bits 16
bsp_start:
    XENO_ENTER_PM32 bsp_main, BSP_STACK

    bits 32
bsp_main:
    call xeno_idt32_setup               ; every vector -> unexpected (none is expected)
    sti                                 ; see the top: IF=1 while it computes or waits
    mov ebp, vcpu_bsp
    call fpu_enable
    call record_initial
    call load_values                    ; the BSP's values are live before the AP runs

    ; INIT, 10 ms, SIPI, 200 us, SIPI to all excluding self (scenarios/smp).
    mov dword [XENO_LAPIC + XENO_APIC_SVR], 0x1ff
    mov dword [XENO_LAPIC + XENO_APIC_ICR_HIGH], 0
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT
    mov ecx, 5000000
    call xeno_spin_ecx
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP | SIPI_VECTOR
    mov ecx, 100000
    call xeno_spin_ecx
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP | SIPI_VECTOR

    call check_loop
    REPORT "bsp"
    mov byte [bsp_reported], 1
.wait_ap:                               ; then the AP reports
    cmp byte [ap_reported], 0
    jne .done
    pause
    jmp .wait_ap
.done:
    CHECK_SUMMARY32 "fpu-per-vcpu: both vcpus kept their own x87 and SSE registers"
    XENO_EXIT 0

; CR0: MP set, EM and TS clear (x87 instructions run, WAIT honours TS);
; NE set (native x87 error reporting; all exceptions stay masked anyway).
; CR4: OSFXSR (SSE instructions, FXSAVE's XMM part) and OSXMMEXCPT.
fpu_enable:
    mov eax, cr0
    and eax, ~(CR0_EM | CR0_TS)
    or eax, CR0_MP | CR0_NE
    mov cr0, eax
    mov eax, cr4
    or eax, CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, eax
    ret

; The control words this vcpu finds, before it loads anything.
record_initial:
    fnstcw [ebp + VCPU.tmp]
    movzx eax, word [ebp + VCPU.tmp]
    mov [ebp + VCPU.init_fcw], eax
    stmxcsr [ebp + VCPU.tmp]
    mov eax, [ebp + VCPU.tmp]
    mov [ebp + VCPU.init_mxcsr], eax
    ret

; This vcpu's values into its registers: ST(i) = .st[i] after the pushes.
load_values:
%assign r 0
%rep 8
    movdqa xmm%[r], [ebp + VCPU.xmm + 16 * r]
%assign r r + 1
%endrep
    ldmxcsr [ebp + VCPU.mxcsr]
    fldcw [ebp + VCPU.fcw]
    mov ecx, MSR_KERNEL_GS_BASE
    mov eax, [ebp + VCPU.kgs]
    mov edx, [ebp + VCPU.kgs + 4]
    wrmsr
%assign i 3
%rep 4
    cmp dword [ebp + VCPU.nst], i
    jbe .skip%[i]
    fld tword [ebp + VCPU.st + 16 * i]
.skip%[i]:
%assign i i - 1
%endrep
    ret

; ITERATIONS rounds of check_all, counted in .iterations.
check_loop:
    mov ecx, ITERATIONS
.again:
    call check_all
    inc dword [ebp + VCPU.iterations]
    dec ecx
    jnz .again
    ret

; EDX = the class's offset in the block, EAX = the value seen: count it,
; keep the first.
record_bad:
    cmp dword [ebp + edx], 0
    jne .counted
    mov [ebp + edx + 4], eax
.counted:
    inc dword [ebp + edx]
    ret

%macro CHECK_XMM 1
    movdqa [ebp + VCPU.tmp], xmm%1
    pcmpeqd xmm%1, [ebp + VCPU.xmm + 16 * %1]
    pmovmskb eax, xmm%1
    movdqa xmm%1, [ebp + VCPU.tmp]      ; as it was, right or wrong
    cmp eax, 0xffff
    je %%ok
    or eax, %1 << 16
    mov edx, BAD_XMM
    call record_bad
%%ok:
%endmacro

%macro CHECK_ST 1
    cmp dword [ebp + VCPU.nst], %1
    jbe %%ok
    fld st%1                            ; a copy of ST(i) on top ...
    fstp tword [ebp + VCPU.tmp]         ; ... stored and popped: the stack as it was
    mov eax, [ebp + VCPU.tmp]
    cmp eax, [ebp + VCPU.st + 16 * %1]
    jne %%bad
    mov eax, [ebp + VCPU.tmp + 4]
    cmp eax, [ebp + VCPU.st + 16 * %1 + 4]
    jne %%bad
    mov ax, [ebp + VCPU.tmp + 8]
    cmp ax, [ebp + VCPU.st + 16 * %1 + 8]
    je %%ok
%%bad:
    movzx eax, word [ebp + VCPU.tmp + 8]
    or eax, %1 << 16
    mov edx, BAD_ST
    call record_bad
%%ok:
%endmacro

; One round: every register class against the block at EBP.
check_all:
    CHECK_XMM 0
    CHECK_XMM 1
    CHECK_XMM 2
    CHECK_XMM 3
    CHECK_XMM 4
    CHECK_XMM 5
    CHECK_XMM 6
    CHECK_XMM 7
    stmxcsr [ebp + VCPU.tmp]
    mov eax, [ebp + VCPU.tmp]
    cmp eax, [ebp + VCPU.mxcsr]
    je .mxcsr_ok
    mov edx, BAD_MXCSR
    call record_bad
.mxcsr_ok:
    fnstcw [ebp + VCPU.tmp]
    movzx eax, word [ebp + VCPU.tmp]
    cmp eax, [ebp + VCPU.fcw]
    je .fcw_ok
    mov edx, BAD_FCW
    call record_bad
.fcw_ok:
    fnstsw ax
    movzx eax, ax
    and eax, FSW_COMPARED
    cmp eax, [ebp + VCPU.fsw]
    je .fsw_ok
    mov edx, BAD_FSW
    call record_bad
.fsw_ok:
    CHECK_ST 0
    CHECK_ST 1
    CHECK_ST 2
    CHECK_ST 3
    push ecx                            ; check_loop's count
    mov ecx, MSR_KERNEL_GS_BASE
    rdmsr
    pop ecx
    cmp eax, [ebp + VCPU.kgs]
    jne .kgs_bad
    cmp edx, [ebp + VCPU.kgs + 4]
    je .kgs_ok
.kgs_bad:
    mov edx, BAD_KGS
    call record_bad
.kgs_ok:
    ret

    XENO_FAIL_HANDLER32 unexpected, "FAIL unexpected interrupt or exception", 2
    XENO_IRQ_ROUTINES
    XENO_FLAT_GDT

; XMM register r's dword j on vcpu v: distinct for every (v, r, j).
%define XMM_DWORD(v, r, j) (((0xc0 + 0x11 * (v)) << 24) | ((r) << 20) | ((j) << 16) | (((v) * 0x3a5 + (r) * 0x1f1 + (j) * 0x7b) & 0xffff))

; VCPU_BLOCK v, mxcsr, fcw, then 1 to 4 x87 values (ST(0) first).
%macro VCPU_BLOCK 4-7
%assign %%vcpu %1
%%start:
%if ($ - $$) % 16
    %error "VCPU_BLOCK: not 16-byte aligned"
%endif
%assign %%r 0
%rep 8
%assign %%j 0
%rep 4
    dd XMM_DWORD(%1, %%r, %%j)
%assign %%j %%j + 1
%endrep
%assign %%r %%r + 1
%endrep
%rotate 3
%rep %0 - 3
    dt %1
    times 6 db 0
%rotate 1
%endrep
    times 16 * (4 - (%0 - 3)) db 0       ; unused ST slots
    times 16 db 0                        ; .tmp
    dd %2                                ; .mxcsr
    dd %3                                ; .fcw
    dd ((8 - (%0 - 3)) << 11) & FSW_COMPARED  ; .fsw: TOP = 8 - values, nothing else
    dd %0 - 3                            ; .nst
    dd 0, 0                              ; .init_fcw, .init_mxcsr
    dq 0xffff888000000000 + %%vcpu * 0x200000 ; .kgs: a canonical per-vcpu base, as Linux's per-CPU areas
    times 2 * 6 dd 0                     ; .bad
    dd 0                                 ; .iterations
%if $ - %%start != VCPU_size
    %error "VCPU_BLOCK does not match struc VCPU"
%endif
%endmacro

    align 16
; BSP: MXCSR RC = down; FCW RC = down, PC = double (53 bits); three values.
vcpu_bsp: VCPU_BLOCK 0, 0x3f80, 0x067f, 1.5, -2.75e100, 3.0e-4000
    align 16
; AP: MXCSR FZ, RC = up; FCW RC = up, PC = extended (64 bits); four values.
vcpu_ap:  VCPU_BLOCK 1, 0xdf80, 0x0b7f, 7.0, -0.1, 6.02214076e23, 1.0e4000

bsp_reported: db 0
ap_reported:  db 0
    XENO_IDT32 256, unexpected, unexpected
