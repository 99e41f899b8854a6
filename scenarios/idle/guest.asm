; idle: a 10-virtual-second HLT sleep woken by the local APIC timer, then a
; HLT that nothing can end.
;   1. In 32-bit protected mode with an IDT and both 8259As masked, the
;      local APIC timer is armed one-shot for 10 s (divide by 128: 128 ns per
;      count at the APIC timer's 1 GHz clock, initial count 78,125,000; the
;      same on both profiles, so no TSC-deadline mode), and the guest executes
;      one HLT with interrupts enabled. The timer's interrupt is the only
;      thing that can wake it.
;   2. After the wake-up: exactly one interrupt arrived (the timer's; any
;      other vector ends the run), the timer's current count reads 0; the
;      RTC's seconds (BCD, register 0) advanced by 10 +- 1 (the seconds
;      were read at unknown phases of the RTC's second); the ACPI PM timer
;      (3.579545 MHz, 24 bits: it wraps every 4.69 s) measured the sleep:
;      its 24-bit difference plus the whole wraps the RTC's count implies
;      (the RTC's +-1 s is less than half a wrap, so the number of wraps is
;      unique) is 10 s within one PM tick below (a timer never fires
;      early) and one tick plus LATENCY_NS plus RATE_PPM of the 10 s above:
;      the exit that starts the count and the interrupt's way to the
;      handler's PM read take tens of microseconds in Bochs, and the hw
;      build's host timer without TSC-deadline mode (penryn) runs the local
;      APIC timer at a rate it measured against the TSC over 10 ms, which
;      makes a long sleep end late by some ppm (27 ppm seen in Bochs).
;   3. The checks printed, the guest disables interrupts and halts: no vcpu
;      can ever run again, so the run ends with end=halted.
; Only host-independent facts are printed; the HLT of part 1 is the only
; place the guest waits, so the exits do not depend on timing.
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

SPURIOUS_VECTOR  equ 0xff
TIMER_VECTOR     equ 0x40
DIVIDE_BY_128    equ 0xa            ; Figure 11-10: 1010b
SLEEP_NS         equ 10000000000    ; 10 s
SLEEP_COUNT      equ SLEEP_NS / 128 ; 78,125,000 counts of 128 ns

PM_WRAP_SHIFT    equ 24             ; the PM timer wraps every 2^24 ticks
LATENCY_NS       equ 200000
RATE_PPM         equ 100

    org 0x8000

start:
    XENO_ENTER_PM32_IDT main, 0x7000
main:
    XENO_USE_APICS SPURIOUS_VECTOR
    mov dword [XENO_LAPIC + XENO_APIC_TIMER_DIV], DIVIDE_BY_128
    mov dword [XENO_LAPIC + XENO_APIC_LVT_TIMER], TIMER_VECTOR  ; one-shot, unmasked

    ; ---- 1. Sleep ----
    call read_rtc_seconds
    mov [rtc_before], eax
    call xeno_pm_read
    mov [pm_before], eax
    mov dword [XENO_LAPIC + XENO_APIC_TIMER_INIT], SLEEP_COUNT
    sti
    hlt                             ; STI's shadow: nothing is taken before the HLT
    cli

    ; ---- 2. What woke it ----
    call read_rtc_seconds
    mov [rtc_after], eax
    mov eax, [timer_count]
    cmp eax, 1
    CHECK32 "one-timer-interrupt-woke-the-hlt"
    mov eax, [XENO_LAPIC + XENO_APIC_TIMER_CUR]
    cmp eax, 0
    CHECK32 "timer-count-reads-0"
    mov eax, [rtc_after]            ; seconds elapsed, mod 60
    sub eax, [rtc_before]
    jnc .rtc_positive
    add eax, 60
.rtc_positive:
    mov [rtc_elapsed], eax
    CHECK_IN_RANGE32 9, 11
    CHECK32 "rtc-seconds-advance-10-plus-minus-1"
    ; PM ticks: the 24-bit difference plus k wraps, k = the whole number of
    ; wraps nearest to what the RTC says (rtc_elapsed s).
    XENO_PM_ELAPSED [pm_irq], [pm_before]
    mov ecx, eax
    mov eax, [rtc_elapsed]
    imul eax, eax, XENO_PM_HZ
    sub eax, ecx
    add eax, 1 << (PM_WRAP_SHIFT - 1)   ; round to the nearest wrap
    sar eax, PM_WRAP_SHIFT
    shl eax, PM_WRAP_SHIFT
    add eax, ecx
    CHECK_IN_RANGE32 XENO_PM_FLOOR(SLEEP_NS) - 1, XENO_PM_CEIL(SLEEP_NS + LATENCY_NS + SLEEP_NS / 1000000 * RATE_PPM) + 1
    CHECK32 "pm-timer-measures-10-s"

    CHECK_SUMMARY32 "idle: all checks passed, halting with interrupts off"

    ; ---- 3. A HLT nothing can end ----
    cli
.halt:
    hlt
    jmp .halt                       ; not reached: the run ends halted

; The RTC's seconds register in binary (the power-on data mode is BCD). The
; model updates the time registers at once, so a read is consistent; a read
; during the update cycle shows the old second, which the +-1 s allows.
read_rtc_seconds:
    mov al, XENO_RTC_SEC
    call xeno_cmos_read
    jmp xeno_bcd_to_bin

timer_irq:
    push eax
    call xeno_pm_read
    mov [pm_irq], eax
    inc dword [timer_count]
    XENO_LAPIC_EOI
    pop eax
    iret

    XENO_IRQ_ROUTINES
    XENO_FLAT_GDT

    align 4
timer_count:    dd 0
pm_before:      dd 0
pm_irq:         dd 0
rtc_before:     dd 0
rtc_after:      dd 0
rtc_elapsed:    dd 0
    XENO_IDT32 0x100, xeno_exception, xeno_unexpected_irq, TIMER_VECTOR, timer_irq
