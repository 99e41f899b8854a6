; lapic-timer: the local APIC timer (Intel SDM Vol. 3A 11.5.4) as an OS uses
; it, in 32-bit protected mode with an IDT, timed on the ACPI PM timer
; (3.579545 MHz, port 0x608; one PM tick = 279.365 ns):
;   - the software enable: SVR reads 0xff after reset (11.4.7.1), LVT entries
;     stay masked while the APIC is software-disabled (11.4.7.2), SVR bit 8
;     and the spurious vector read back; disabling again masks every LVT;
;   - the divide configuration register (Figure 11-10) read back;
;   - one-shot mode, divide by 16 and by 1: the current count falls from the
;     initial count, one interrupt after initial count x divide ns (the APIC
;     timer's clock is 1 GHz before the divider), the count then reads 0 and
;     stays there; the two durations differ by 15 x the count in ns;
;   - periodic mode: the count reloads, 21 interrupts waited for with HLT
;     span 20 periods, an initial count of 0 stops the timer;
;   - a masked LVT timer: no interrupt, nothing in IRR, the count still runs
;     down to 0;
;   - the TPR: with TPR class 5 above the timer's vector class 4 the expired
;     timer waits in IRR and PPR = TPR; lowering the TPR delivers it at once;
;     PPR = the vector's class while in service, EOI through the MMIO EOI
;     register clears ISR;
;   - TSC-deadline mode (CPUID.01H:ECX[24]): on skylake the initial count is
;     ignored and the current count reads 0, IA32_TSC_DEADLINE (0x6e0) reads
;     back the armed deadline, one interrupt at or after it, the MSR cleared
;     by the expiry, a deadline in the past fires at once; on penryn the bit
;     is clear and RDMSR/WRMSR 0x6e0 raise #GP;
;   - x2APIC mode (CPUID.01H:ECX[21], IA32_APIC_BASE bit 10): on skylake the
;     x2APIC ID and LDR (11.12.10.2), the version, TPR/PPR, the one-shot and
;     periodic tests above again through the MSRs 0x800+ with EOI through
;     the EOI MSR 0x80b (a non-zero write is #GP), x2APIC -> xAPIC refused
;     (#GP), x2APIC -> disabled -> xAPIC allowed; on penryn the bit is clear
;     and setting it, or touching an x2APIC MSR, raises #GP.
; The profile-dependent parts print one line each, "ok tsc-deadline" and
; "ok x2apic", after the sub-checks that mean something on that profile
; (a failing sub-check prints "FAIL tsc-deadline/<check> got=<value>"), so
; both profiles print the same console.
;
; Timing checks and their tolerances: a PM-timer difference of a duration d
; is floor(d x f) or ceil(d x f) ticks; lower bounds allow one more tick
; below floor(d x f) and nothing else (a timer never fires early). Upper
; bounds allow one tick plus LATENCY_NS for a one-shot (from the PM read
; before the start to the handler's PM read: the MMIO/MSR exit that starts
; the count, the external-interrupt exit, the injection and the handler's
; own PM read; in Bochs an exit costs tens of microseconds of machine time:
; about 110 us seen in xAPIC mode, 80 us in x2APIC mode; 2 us in the sim)
; and JITTER_NS for differences of two interrupt-to-handler paths, whose
; latency is the same up to the host timer's granularity (within one PM
; tick in both builds).
;
; VM exits do not depend on timing: interrupts are waited for with HLT
; (sti; hlt; cli, so the wake-up is never missed), busy waits are a fixed
; number of instructions without exits, every timer is stopped or expired
; before anything is printed.
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

; TCHECK "name": after a compare, ZF=1 passes. Prints "ok <prefix><name>"
; (not when [quiet]) or "FAIL <prefix><name> got=<eax>" (and counts it in
; [failures]). Registers and flags are preserved.
%macro TCHECK 1
    call %%report
    db %1, 0
%%report:
    call tcheck
    lea esp, [esp + 4]              ; the name's address (LEA keeps the flags)
%endmacro

; TCHECK_ONE_SHOT ns, "duration name", "count name": after one_shot_run, the
; interrupt came no earlier than ns after the start and at most one PM tick
; plus LATENCY_NS later, and only once.
%macro TCHECK_ONE_SHOT 3
    mov eax, [os_pm_ticks]
    CHECK_IN_RANGE32 XENO_PM_FLOOR(%1) - 1, XENO_PM_CEIL(%1 + LATENCY_NS) + 1
    TCHECK %2
    mov eax, [os_count]
    cmp eax, 1
    TCHECK %3
%endmacro

; TIMER_ARM divide, lvt: IF=0, [timer_count] = 0, then the divide
; configuration and the LVT timer entry written (apic_write: EAX, ECX are
; not kept). The initial count that starts the timer is the caller's.
%macro TIMER_ARM 2
    cli
    mov dword [timer_count], 0
    mov ecx, XENO_APIC_TIMER_DIV
    mov eax, %1
    call apic_write
    mov ecx, XENO_APIC_LVT_TIMER
    mov eax, %2
    call apic_write
%endmacro

; MSR_GPS rdmsr, msr / MSR_GPS wrmsr, msr, value: the instruction on msr
; (WRMSR of EDX:EAX = 0:value); EAX = the #GPs it raised (0 or 1: gp_handler
; counts them and skips the instruction), ECX = msr. EBX is not kept.
%macro MSR_GPS 2-3
    mov ebx, [gp_count]
    mov ecx, %2
%if %0 == 3
    mov eax, %3
    xor edx, edx
%endif
    %1
    mov eax, [gp_count]
    sub eax, ebx
%endmacro

; ---- Local APIC (Table 11-1; the register offsets XENO_APIC_* in xeno_pc.inc;
; x2APIC MSR = 0x800 + offset / 16) ----
MSR_X2APIC       equ 0x800
MSR_X2APIC_EOI   equ MSR_X2APIC + XENO_APIC_EOI / 16

MSR_APIC_BASE    equ 0x1b
MSR_TSC_DEADLINE equ 0x6e0
APIC_BASE_BSP    equ 1 << 8
APIC_BASE_EXTD   equ 1 << 10
APIC_BASE_EN     equ 1 << 11
APIC_BASE_XAPIC  equ XENO_LAPIC | APIC_BASE_EN | APIC_BASE_BSP     ; 0xfee00900
APIC_BASE_X2APIC equ APIC_BASE_XAPIC | APIC_BASE_EXTD              ; 0xfee00d00
APIC_BASE_OFF    equ XENO_LAPIC                                    ; EN = EXTD = 0

CPUID1_ECX_X2APIC       equ 1 << 21
CPUID1_ECX_TSC_DEADLINE equ 1 << 24

SVR_RESET        equ 0xff
SPURIOUS_VECTOR  equ 0xef
LVT_PERIODIC     equ 1 << 17
LVT_TSC_DEADLINE equ 2 << 17
DIVIDE_BY_1      equ 0xb          ; Figure 11-10: 1011b
DIVIDE_BY_16     equ 0x3          ; 0011b

TIMER_VECTOR     equ 0x40         ; priority class 4
TIMER_CLASS      equ TIMER_VECTOR & 0xf0
TPR_ABOVE_TIMER  equ 0x50         ; class 5: holds class-4 vectors back
TIMER_ISR_REG    equ XENO_APIC_ISR + (TIMER_VECTOR / 32) * 0x10
TIMER_IRR_REG    equ XENO_APIC_IRR + (TIMER_VECTOR / 32) * 0x10
TIMER_VECTOR_BIT equ 1 << (TIMER_VECTOR % 32)

; ---- Time (the ACPI PM timer: xeno_pc.inc) ----
LATENCY_NS       equ 200000       ; one-shot upper bound allowance (see the header)
JITTER_NS        equ 20000        ; allowance for the difference of two latencies

ONE_SHOT_COUNT   equ 1000000      ; divide 16: 16 ms; divide 1: 1 ms
ONE_SHOT_16_NS   equ ONE_SHOT_COUNT * 16
ONE_SHOT_1_NS    equ ONE_SHOT_COUNT
PERIODIC_COUNT   equ 2000000      ; divide 1: a 2 ms period
PERIODIC_IRQS    equ 21           ; the first and the last are 20 periods apart
PERIODIC_SPAN_NS equ (PERIODIC_IRQS - 1) * PERIODIC_COUNT
SHORT_COUNT      equ 1000000      ; divide 1: 1 ms (masked and TPR tests)
TSC_DEADLINE_DELTA equ 1 << 24    ; TSC ticks: 16.8 ms at 1 GHz, 4.8 ms at 3.5 GHz
; Busy wait: SPIN iterations of a two-instruction loop without exits, 6 M
; instructions: at least 6 ms at 1 ns per instruction (the sim), 60 ms in
; Bochs at 100 M instructions per second; longer than every timer it waits out.
SPIN             equ 3000000

    org 0x8000

start:
    XENO_ENTER_PM32_IDT main, 0x7000
main:
    XENO_PIC_MASK_ALL               ; only the local APIC interrupts here
    mov dword [check_prefix], empty_prefix

    ; ---- APIC base, version, software enable ----
    mov ecx, MSR_APIC_BASE
    rdmsr
    cmp eax, APIC_BASE_XAPIC
    TCHECK "apic-base-xapic-enabled-bsp"
    mov ecx, XENO_APIC_VERSION
    call apic_read
    mov [apic_version], eax
    and eax, 0xff
    cmp eax, 0x10                   ; 1XH: an integrated APIC (11.4.8)
    setae al
    cmp al, 1
    TCHECK "apic-version-integrated"
    mov ecx, XENO_APIC_SVR
    call apic_read
    cmp eax, SVR_RESET
    TCHECK "svr-reset-0xff"
    mov ecx, XENO_APIC_LVT_TIMER
    mov eax, TIMER_VECTOR
    call apic_write
    call apic_read
    cmp eax, TIMER_VECTOR | XENO_APIC_LVT_MASKED
    TCHECK "lvt-stays-masked-while-disabled"
    mov ecx, XENO_APIC_SVR
    mov eax, XENO_APIC_SVR_ENABLE | SPURIOUS_VECTOR
    call apic_write
    call apic_read
    cmp eax, XENO_APIC_SVR_ENABLE | SPURIOUS_VECTOR
    TCHECK "svr-enable-and-spurious-vector"
    mov ecx, XENO_APIC_LVT_TIMER
    mov eax, TIMER_VECTOR | XENO_APIC_LVT_MASKED
    call apic_write
    call apic_read
    cmp eax, TIMER_VECTOR | XENO_APIC_LVT_MASKED
    TCHECK "lvt-timer-read-back"

    ; ---- Divide configuration ----
    mov ecx, XENO_APIC_TIMER_DIV
    mov eax, DIVIDE_BY_16
    call apic_write
    call apic_read
    mov ebx, eax
    mov eax, DIVIDE_BY_1
    call apic_write
    call apic_read
    shl ebx, 8
    or eax, ebx
    cmp eax, (DIVIDE_BY_16 << 8) | DIVIDE_BY_1
    TCHECK "divide-config-read-back"

    ; ---- One-shot and periodic through the xAPIC page ----
    call one_shot_tests
    call periodic_test

    ; ---- A masked LVT timer still counts ----
    TIMER_ARM DIVIDE_BY_1, TIMER_VECTOR | XENO_APIC_LVT_MASKED
    mov ecx, XENO_APIC_TIMER_INIT
    mov eax, SHORT_COUNT
    call apic_write
    mov ecx, XENO_APIC_TIMER_CUR
    call apic_read
    mov esi, eax
    sti
    call xeno_spin
    cli
    mov eax, [timer_count]
    cmp eax, 0
    TCHECK "masked-timer-no-interrupt"
    mov ecx, TIMER_IRR_REG
    call apic_read
    and eax, TIMER_VECTOR_BIT
    TCHECK "masked-timer-not-in-irr"
    mov eax, esi                    ; counting when the wait began
    CHECK_IN_RANGE32 1, SHORT_COUNT
    TCHECK "masked-timer-counting"
    mov ecx, XENO_APIC_TIMER_CUR    ; and at 0 after it
    call apic_read
    cmp eax, 0
    TCHECK "masked-timer-counts-to-0"

    ; ---- TPR above the timer's class: the interrupt waits in IRR ----
    mov ecx, XENO_APIC_TPR
    mov eax, TPR_ABOVE_TIMER
    call apic_write
    mov ecx, XENO_APIC_LVT_TIMER
    mov eax, TIMER_VECTOR           ; one-shot, unmasked
    call apic_write
    mov ecx, XENO_APIC_TIMER_INIT
    mov eax, SHORT_COUNT
    call apic_write
    sti
    call xeno_spin                       ; the timer expires in here
    cli
    mov eax, [timer_count]
    cmp eax, 0
    TCHECK "tpr-holds-lower-class"
    mov ecx, TIMER_IRR_REG
    call apic_read
    and eax, TIMER_VECTOR_BIT
    cmp eax, TIMER_VECTOR_BIT
    TCHECK "held-interrupt-in-irr"
    mov ecx, XENO_APIC_PPR
    call apic_read
    cmp eax, TPR_ABOVE_TIMER        ; nothing in service: PPR = TPR
    TCHECK "ppr-equals-tpr"
    mov ecx, XENO_APIC_TPR
    xor eax, eax
    call apic_write                 ; IF=0: delivered after STI's shadow
    sti
    nop
    cli
    mov eax, [timer_count]
    cmp eax, 1
    TCHECK "tpr-lowered-delivers"
    mov eax, [ppr_in_handler]
    cmp eax, TIMER_CLASS            ; in service: PPR = the vector's class
    TCHECK "ppr-in-service-is-vector-class"
    mov ecx, TIMER_ISR_REG
    call apic_read
    and eax, TIMER_VECTOR_BIT
    TCHECK "mmio-eoi-clears-isr"
    mov ecx, XENO_APIC_PPR
    call apic_read
    cmp eax, 0
    TCHECK "ppr-0-after-eoi"

    ; ---- TSC-deadline mode, or its absence ----
    call tsc_deadline_test

    ; ---- Software disable masks every LVT entry ----
    mov ecx, XENO_APIC_LVT_TIMER
    mov eax, TIMER_VECTOR
    call apic_write
    mov ecx, XENO_APIC_SVR
    mov eax, SPURIOUS_VECTOR        ; bit 8 clear
    call apic_write
    mov ecx, XENO_APIC_LVT_TIMER
    call apic_read
    cmp eax, TIMER_VECTOR | XENO_APIC_LVT_MASKED
    TCHECK "software-disable-masks-lvt"
    mov ecx, XENO_APIC_SVR
    mov eax, XENO_APIC_SVR_ENABLE | SPURIOUS_VECTOR
    call apic_write

    ; ---- x2APIC mode, or its absence ----
    call x2apic_test

    CHECK_SUMMARY32 "lapic-timer: all checks passed"
    XENO_EXIT 0

; ============================================================================
; The timer tests, through whichever register window [x2apic_on] selects.
; ============================================================================

; One-shot at divide 16, then at divide 1, and their checks.
one_shot_tests:
    mov ebx, DIVIDE_BY_16
    mov esi, ONE_SHOT_COUNT
    call one_shot_run
    mov eax, [os_pm_ticks]
    mov [pm_ticks_16], eax
    mov eax, [os_cc1]               ; initial >= cc1 > cc2 > 0
    CHECK_IN_RANGE32 1, ONE_SHOT_COUNT
    TCHECK "one-shot-current-count-loaded"
    mov edx, eax
    dec edx
    mov eax, [os_cc2]
    call check_in_range
    TCHECK "one-shot-current-count-falls"
    TCHECK_ONE_SHOT ONE_SHOT_16_NS, "one-shot-divide-16-fires-after-16-x-count-ns", "one-shot-divide-16-fires-once"
    mov eax, [os_ccr_after]
    cmp eax, 0
    TCHECK "one-shot-count-reads-0-after-expiry"
    mov eax, [os_isr_after]
    and eax, TIMER_VECTOR_BIT
    TCHECK "eoi-clears-isr"
    mov ecx, XENO_APIC_TIMER_INIT
    call apic_read
    cmp eax, ONE_SHOT_COUNT
    TCHECK "initial-count-kept"

    mov ebx, DIVIDE_BY_1
    mov esi, ONE_SHOT_COUNT
    call one_shot_run
    TCHECK_ONE_SHOT ONE_SHOT_1_NS, "one-shot-divide-1-fires-after-count-ns", "one-shot-divide-1-fires-once"
    ; Both durations carry the same start and interrupt latencies: their
    ; difference is 15 x count ns within two PM ticks and the jitter.
    mov eax, [pm_ticks_16]
    sub eax, [os_pm_ticks]
    CHECK_IN_RANGE32 XENO_PM_FLOOR(ONE_SHOT_16_NS - ONE_SHOT_1_NS - JITTER_NS) - 2, XENO_PM_CEIL(ONE_SHOT_16_NS - ONE_SHOT_1_NS + JITTER_NS) + 2
    TCHECK "divide-16-minus-divide-1-is-15-x-count-ns"
    ret

; one_shot_run: EBX = divide configuration, ESI = initial count. A one-shot
; timer, waited for with HLT. Leaves [os_cc1] and [os_cc2] (two current-count
; reads right after the start), [os_pm_ticks] (PM ticks from just before the
; start to the interrupt handler), [os_ccr_after] and [os_isr_after] (the
; current count and the ISR word after the interrupt), [os_count] (the
; interrupts seen after a further busy wait).
one_shot_run:
    TIMER_ARM ebx, TIMER_VECTOR     ; one-shot, unmasked
    call xeno_pm_read
    mov [pm_start], eax
    mov ecx, XENO_APIC_TIMER_INIT
    mov eax, esi
    call apic_write
    mov ecx, XENO_APIC_TIMER_CUR
    call apic_read
    mov [os_cc1], eax
    call apic_read
    mov [os_cc2], eax
    mov eax, 1
    call wait_irqs
    XENO_PM_ELAPSED [pm_first], [pm_start]
    mov [os_pm_ticks], eax
    mov ecx, XENO_APIC_TIMER_CUR
    call apic_read
    mov [os_ccr_after], eax
    mov ecx, TIMER_ISR_REG
    call apic_read
    mov [os_isr_after], eax
    sti
    call xeno_spin
    cli
    mov eax, [timer_count]
    mov [os_count], eax
    ret

; Periodic at divide 1 with a 2 ms period.
periodic_test:
    TIMER_ARM DIVIDE_BY_1, TIMER_VECTOR | LVT_PERIODIC
    mov ecx, XENO_APIC_TIMER_INIT
    mov eax, PERIODIC_COUNT
    call apic_write
    mov eax, 1
    call wait_irqs
    mov ecx, XENO_APIC_TIMER_CUR    ; reloaded at the expiry: counting again
    call apic_read
    mov esi, eax
    mov eax, PERIODIC_IRQS
    call wait_irqs
    mov ecx, XENO_APIC_TIMER_INIT
    xor eax, eax                    ; an initial count of 0 stops the timer
    call apic_write
    mov ecx, XENO_APIC_TIMER_CUR
    call apic_read
    mov edi, eax
    sti
    call xeno_spin
    cli
    mov ecx, XENO_APIC_LVT_TIMER
    mov eax, TIMER_VECTOR | XENO_APIC_LVT_MASKED
    call apic_write

    mov eax, esi
    CHECK_IN_RANGE32 1, PERIODIC_COUNT
    TCHECK "periodic-count-reloads"
    XENO_PM_ELAPSED [pm_last], [pm_first]
    CHECK_IN_RANGE32 XENO_PM_FLOOR(PERIODIC_SPAN_NS - JITTER_NS) - 1, XENO_PM_CEIL(PERIODIC_SPAN_NS + JITTER_NS) + 1
    TCHECK "periodic-21-interrupts-span-20-periods"
    mov eax, [timer_count]
    cmp eax, PERIODIC_IRQS
    TCHECK "periodic-stops-at-initial-count-0"
    mov eax, edi
    cmp eax, 0
    TCHECK "periodic-stopped-count-reads-0"
    ret

; ---- TSC-deadline mode (skylake) or #GP for IA32_TSC_DEADLINE (penryn) ----
tsc_deadline_test:
    mov esi, tsc_prefix
    call group_begin
    mov eax, 1
    cpuid
    test ecx, CPUID1_ECX_TSC_DEADLINE
    jz .absent

    cli
    mov dword [timer_count], 0
    mov ecx, XENO_APIC_LVT_TIMER
    mov eax, TIMER_VECTOR | LVT_TSC_DEADLINE
    call apic_write
    call apic_read
    cmp eax, TIMER_VECTOR | LVT_TSC_DEADLINE
    TCHECK "lvt-mode-read-back"
    ; 11.5.4.1: initial-count writes are ignored, the current count reads 0.
    mov ecx, XENO_APIC_TIMER_DIV
    mov eax, DIVIDE_BY_1
    call apic_write
    mov ecx, XENO_APIC_TIMER_INIT
    mov eax, 1000
    call apic_write
    sti
    call xeno_spin
    cli
    mov eax, [timer_count]
    cmp eax, 0
    TCHECK "initial-count-ignored"
    mov ecx, XENO_APIC_TIMER_CUR
    call apic_read
    cmp eax, 0
    TCHECK "current-count-reads-0"
    ; Arm: IA32_TSC_DEADLINE = now + delta.
    rdtsc
    add eax, TSC_DEADLINE_DELTA
    adc edx, 0
    mov [deadline], eax
    mov [deadline + 4], edx
    mov ecx, MSR_TSC_DEADLINE
    wrmsr
    rdmsr
    xor eax, [deadline]
    xor edx, [deadline + 4]
    or eax, edx
    TCHECK "msr-reads-armed-deadline"
    mov eax, 1
    call wait_irqs
    mov eax, [tsc_irq]              ; TSC in the handler >= the deadline
    mov edx, [tsc_irq + 4]
    sub eax, [deadline]
    sbb edx, [deadline + 4]
    setnc al
    movzx eax, al
    cmp eax, 1
    TCHECK "fires-at-or-after-deadline"
    mov ecx, MSR_TSC_DEADLINE
    rdmsr
    or eax, edx
    TCHECK "msr-cleared-by-expiry"
    sti
    call xeno_spin
    cli
    mov eax, [timer_count]
    cmp eax, 1
    TCHECK "fires-once"
    ; A deadline in the past fires at once: one a moment ago, and 1 (the
    ; smallest value that arms the timer, far below the TSC's value).
    rdtsc
    sub eax, 1000
    sbb edx, 0
    mov ecx, MSR_TSC_DEADLINE
    wrmsr
    sti
    nop
    cli
    mov eax, [timer_count]
    cmp eax, 2
    TCHECK "past-deadline-fires-at-once"
    mov ecx, MSR_TSC_DEADLINE
    mov eax, 1
    xor edx, edx
    wrmsr
    sti
    nop
    cli
    mov eax, [timer_count]
    cmp eax, 3
    TCHECK "deadline-1-fires-at-once"
    mov ecx, XENO_APIC_LVT_TIMER    ; back to one-shot mode, masked
    mov eax, TIMER_VECTOR | XENO_APIC_LVT_MASKED
    call apic_write
    jmp .done

.absent:
    MSR_GPS rdmsr, MSR_TSC_DEADLINE
    cmp eax, 1
    TCHECK "rdmsr-gp"
    MSR_GPS wrmsr, MSR_TSC_DEADLINE, 0x1000
    cmp eax, 1
    TCHECK "wrmsr-gp"
.done:
    call group_end
    TCHECK "tsc-deadline"
    ret

; ---- x2APIC mode (skylake) or its absence (penryn) ----
x2apic_test:
    mov esi, x2apic_prefix
    call group_begin
    mov eax, 1
    cpuid
    test ecx, CPUID1_ECX_X2APIC
    jz .absent

    MSR_GPS wrmsr, MSR_APIC_BASE, APIC_BASE_X2APIC
    cmp eax, 0
    TCHECK "enable-no-gp"
    rdmsr
    cmp eax, APIC_BASE_X2APIC
    TCHECK "apic-base-extd"
    mov byte [x2apic_on], 1
    mov ecx, XENO_APIC_ID
    call apic_read
    cmp eax, 0                      ; the BSP's initial APIC ID
    TCHECK "id"
    mov ecx, XENO_APIC_LDR
    call apic_read
    cmp eax, 1                      ; cluster 0, bit (ID & 15)
    TCHECK "ldr-derived-from-id"
    mov ecx, XENO_APIC_VERSION
    call apic_read
    cmp eax, [apic_version]
    TCHECK "version"
    mov ecx, XENO_APIC_SVR
    mov eax, XENO_APIC_SVR_ENABLE | SPURIOUS_VECTOR
    call apic_write
    call apic_read
    cmp eax, XENO_APIC_SVR_ENABLE | SPURIOUS_VECTOR
    TCHECK "svr"
    mov ecx, XENO_APIC_TPR
    mov eax, TPR_ABOVE_TIMER
    call apic_write
    mov ecx, XENO_APIC_PPR
    call apic_read
    cmp eax, TPR_ABOVE_TIMER
    TCHECK "ppr-follows-tpr"
    mov ecx, XENO_APIC_TPR
    xor eax, eax
    call apic_write
    MSR_GPS wrmsr, MSR_X2APIC_EOI, 1    ; 11.12.1.3: the EOI MSR takes only 0
    cmp eax, 1
    TCHECK "eoi-nonzero-gp"

    call one_shot_tests             ; EOI through MSR 0x80b in the handler
    call periodic_test

    MSR_GPS wrmsr, MSR_APIC_BASE, APIC_BASE_XAPIC  ; x2APIC -> xAPIC: illegal (Figure 11-27)
    cmp eax, 1
    TCHECK "to-xapic-gp"
    mov ebx, [gp_count]             ; x2APIC -> disabled -> xAPIC: legal
    mov ecx, MSR_APIC_BASE
    mov eax, APIC_BASE_OFF
    xor edx, edx
    wrmsr
    mov byte [x2apic_on], 0
    mov eax, APIC_BASE_XAPIC
    wrmsr
    mov eax, [gp_count]
    sub eax, ebx
    TCHECK "disable-then-xapic"
    rdmsr
    cmp eax, APIC_BASE_XAPIC
    TCHECK "back-in-xapic-mode"
    jmp .done

.absent:
    MSR_GPS wrmsr, MSR_APIC_BASE, APIC_BASE_X2APIC
    cmp eax, 1
    TCHECK "extd-gp"
    rdmsr
    cmp eax, APIC_BASE_XAPIC
    TCHECK "apic-base-unchanged"
    MSR_GPS rdmsr, MSR_X2APIC + XENO_APIC_ID / 16
    cmp eax, 1
    TCHECK "id-msr-gp"
    MSR_GPS wrmsr, MSR_X2APIC_EOI, 0
    cmp eax, 1
    TCHECK "eoi-msr-gp"
.done:
    call group_end
    TCHECK "x2apic"
    ret

; ============================================================================
; Helpers
; ============================================================================

; apic_read: ECX = register offset -> EAX. apic_write: ECX = offset, EAX =
; value. Through the xAPIC page, or the x2APIC MSR 0x800 + offset / 16 when
; [x2apic_on]. Other registers are preserved.
apic_read:
    cmp byte [x2apic_on], 0
    jne .msr
    mov eax, [XENO_LAPIC + ecx]
    ret
.msr:
    push ecx
    push edx
    shr ecx, 4
    add ecx, MSR_X2APIC
    rdmsr
    jmp apic_msr_done

apic_write:
    cmp byte [x2apic_on], 0
    jne .msr
    mov [XENO_LAPIC + ecx], eax
    ret
.msr:
    push ecx
    push edx
    xor edx, edx
    shr ecx, 4
    add ecx, MSR_X2APIC
    wrmsr
apic_msr_done:
    pop edx
    pop ecx
    ret

; wait_irqs: HLT until [timer_count] >= EAX. Entered and left with IF=0;
; STI's shadow covers HLT, so an interrupt that is already pending is taken
; after the HLT, never before it.
wait_irqs:
    XENO_HLT_UNTIL timer_count, eax
    ret

; The timer interrupt: count it, note the TSC and the PM timer (the first
; and the latest), PPR while in service, then EOI.
timer_irq:
    push eax
    push ecx
    push edx
    rdtsc
    mov [tsc_irq], eax
    mov [tsc_irq + 4], edx
    call xeno_pm_read
    mov [pm_last], eax
    inc dword [timer_count]
    cmp dword [timer_count], 1
    jne .not_first
    mov [pm_first], eax
.not_first:
    mov ecx, XENO_APIC_PPR
    call apic_read
    mov [ppr_in_handler], eax
    mov ecx, XENO_APIC_EOI
    xor eax, eax
    call apic_write
    pop edx
    pop ecx
    pop eax
    iret

; #GP (from RDMSR/WRMSR, both two bytes long): count it and skip the
; instruction.
gp_handler:
    inc dword [gp_count]
    add dword [esp + 4], 2          ; the error code is at [esp]
    add esp, 4
    iret

; ---- Checks ----
; A group of sub-checks: ESI = the prefix of their names; their "ok" lines
; are not printed.
group_begin:
    push eax
    mov [check_prefix], esi
    mov byte [quiet], 1
    mov eax, [failures]
    mov [group_failures], eax
    pop eax
    ret

; The group's end: ZF=1 when none of its checks failed (for its own TCHECK);
; EAX = the failures so far.
group_end:
    mov byte [quiet], 0
    mov dword [check_prefix], empty_prefix
    mov eax, [failures]
    cmp eax, [group_failures]
    ret

; tcheck: the routine behind TCHECK (defined at the top).

tcheck:
    pushf
    pushad
    mov ebx, [esp + 40]             ; the name (pushad 32, pushf 4, return 4)
    test dword [esp + 32], 0x40     ; ZF in the saved flags
    jz .fail
    cmp byte [quiet], 0
    jne .done
    mov esi, msg_ok
    call xeno_puts32
    jmp .name
.fail:
    inc dword [failures]
    mov esi, msg_fail
    call xeno_puts32
.name:
    mov esi, [check_prefix]
    call xeno_puts32
    mov esi, ebx
    call xeno_puts32
    test dword [esp + 32], 0x40
    jnz .newline
    mov esi, msg_got
    call xeno_puts32
    mov eax, [esp + 28]             ; the saved EAX
    call xeno_hex32
.newline:
    mov al, 10
    call xeno_putc32
.done:
    popad
    popf
    ret

    XENO_IRQ_ROUTINES SPIN          ; with msg_ok, msg_fail, msg_got and failures for tcheck
    XENO_FLAT_GDT

empty_prefix:   db 0
tsc_prefix:     db "tsc-deadline/", 0
x2apic_prefix:  db "x2apic/", 0
    align 4
group_failures: dd 0
check_prefix:   dd 0
gp_count:       dd 0
timer_count:    dd 0
pm_start:       dd 0
pm_first:       dd 0
pm_last:        dd 0
pm_ticks_16:    dd 0
ppr_in_handler: dd 0
apic_version:   dd 0
os_cc1:         dd 0
os_cc2:         dd 0
os_pm_ticks:    dd 0
os_ccr_after:   dd 0
os_isr_after:   dd 0
os_count:       dd 0
tsc_irq:        dq 0
deadline:       dq 0
quiet:          db 0
x2apic_on:      db 0
    XENO_IDT32 0x100, xeno_exception, xeno_unexpected_irq, 13, gp_handler, TIMER_VECTOR, timer_irq
