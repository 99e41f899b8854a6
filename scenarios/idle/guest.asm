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
%include "xeno.inc"
%include "xeno_check.inc"

LAPIC            equ 0xfee00000
APIC_SVR         equ LAPIC + 0x0f0
APIC_LVT_TIMER   equ LAPIC + 0x320
APIC_TIMER_INIT  equ LAPIC + 0x380
APIC_TIMER_CUR   equ LAPIC + 0x390
APIC_TIMER_DIV   equ LAPIC + 0x3e0
APIC_EOI         equ LAPIC + 0x0b0
SVR_ENABLE       equ 1 << 8
SPURIOUS_VECTOR  equ 0xff
TIMER_VECTOR     equ 0x40
DIVIDE_BY_128    equ 0xa            ; Figure 11-10: 1010b
SLEEP_NS         equ 10000000000    ; 10 s
SLEEP_COUNT      equ SLEEP_NS / 128 ; 78,125,000 counts of 128 ns

RTC_INDEX        equ 0x70
RTC_DATA         equ 0x71
RTC_SECONDS      equ 0x00
PM_TMR           equ 0x608
PM_HZ            equ 3579545
PM_MASK          equ 0xffffff
PM_WRAP_SHIFT    equ 24             ; the PM timer wraps every 2^24 ticks
%define PM_FLOOR(ns) ((ns) * PM_HZ / 1000000000)
%define PM_CEIL(ns)  (((ns) * PM_HZ + 999999999) / 1000000000)
LATENCY_NS       equ 200000
RATE_PPM         equ 100

    org 0x8000

start:
    XENO_ENTER_PM32 main, 0x7000

    bits 32
main:
    call setup_idt
    lidt [idt_desc]
    mov al, 0xff                    ; both 8259As masked
    out 0x21, al
    out 0xa1, al
    mov dword [APIC_SVR], SVR_ENABLE | SPURIOUS_VECTOR
    mov dword [APIC_TIMER_DIV], DIVIDE_BY_128
    mov dword [APIC_LVT_TIMER], TIMER_VECTOR    ; one-shot, unmasked

    ; ---- 1. Sleep ----
    call read_rtc_seconds
    mov [rtc_before], eax
    mov dx, PM_TMR
    in eax, dx
    mov [pm_before], eax
    mov dword [APIC_TIMER_INIT], SLEEP_COUNT
    sti
    hlt                             ; STI's shadow: nothing is taken before the HLT
    cli

    ; ---- 2. What woke it ----
    call read_rtc_seconds
    mov [rtc_after], eax
    mov eax, [timer_count]
    cmp eax, 1
    CHECK32 "one-timer-interrupt-woke-the-hlt"
    mov eax, [APIC_TIMER_CUR]
    cmp eax, 0
    CHECK32 "timer-count-reads-0"
    mov eax, [rtc_after]            ; seconds elapsed, mod 60
    sub eax, [rtc_before]
    jnc .rtc_positive
    add eax, 60
.rtc_positive:
    mov [rtc_elapsed], eax
    cmp eax, 9
    setae bl
    cmp eax, 11
    setbe bh
    and bl, bh
    cmp bl, 1
    CHECK32 "rtc-seconds-advance-10-plus-minus-1"
    ; PM ticks: the 24-bit difference plus k wraps, k = the whole number of
    ; wraps nearest to what the RTC says (rtc_elapsed s).
    mov ecx, [pm_irq]
    sub ecx, [pm_before]
    and ecx, PM_MASK
    mov eax, [rtc_elapsed]
    imul eax, eax, PM_HZ
    sub eax, ecx
    add eax, 1 << (PM_WRAP_SHIFT - 1)   ; round to the nearest wrap
    sar eax, PM_WRAP_SHIFT
    shl eax, PM_WRAP_SHIFT
    add eax, ecx
    mov ebx, PM_FLOOR(SLEEP_NS) - 1
    mov edx, PM_CEIL(SLEEP_NS + LATENCY_NS + SLEEP_NS / 1000000 * RATE_PPM) + 1
    call in_range
    CHECK32 "pm-timer-measures-10-s"

    cmp dword [failures], 0
    jne .failed
    mov esi, msg_all
    call xeno_puts32

    ; ---- 3. A HLT nothing can end ----
    cli
.halt:
    hlt
    jmp .halt                       ; not reached: the run ends halted
.failed:
    XENO_EXIT 1

; The RTC's seconds register in binary (the power-on data mode is BCD). The
; model updates the time registers at once, so a read is consistent; a read
; during the update cycle shows the old second, which the +-1 s allows.
read_rtc_seconds:
    mov al, RTC_SECONDS
    out RTC_INDEX, al
    in al, RTC_DATA
    movzx eax, al
    mov ebx, eax                    ; BCD -> binary: tens * 10 + ones
    shr ebx, 4
    and eax, 0x0f
    imul ebx, ebx, 10
    add eax, ebx
    ret

; in_range: ZF=1 when EBX <= EAX <= EDX (unsigned); EAX kept.
in_range:
    cmp eax, ebx
    jb .no
    cmp eax, edx
    ja .no
    cmp eax, eax
    ret
.no:
    cmp esp, 0                      ; ZF=0
    ret

; IDT: exceptions -> exception, TIMER_VECTOR -> timer_irq, the rest ->
; unexpected.
setup_idt:
    xor ecx, ecx
.gate:
    mov eax, exception
    cmp ecx, 0x20
    jb .set
    mov eax, unexpected_irq
    cmp ecx, TIMER_VECTOR
    jne .set
    mov eax, timer_irq
.set:
    mov [idt + ecx * 8], ax
    mov word [idt + ecx * 8 + 2], XENO_CODE32_SEL
    mov word [idt + ecx * 8 + 4], 0x8e00  ; present, DPL 0, 32-bit interrupt gate
    shr eax, 16
    mov [idt + ecx * 8 + 6], ax
    inc ecx
    cmp ecx, IDT_ENTRIES
    jb .gate
    ret

timer_irq:
    push eax
    push edx
    mov dx, PM_TMR
    in eax, dx
    mov [pm_irq], eax
    inc dword [timer_count]
    mov dword [APIC_EOI], 0
    pop edx
    pop eax
    iret

unexpected_irq:
    mov esi, msg_unexpected
    call xeno_puts32
    XENO_EXIT 2

exception:
    mov esi, msg_exception
    call xeno_puts32
    XENO_EXIT 3

    XENO_PRINT16_ROUTINES
    XENO_PRINT32_ROUTINES
    CHECK_ROUTINES
    XENO_FLAT_GDT

msg_all:        db "idle: all checks passed, halting with interrupts off", 10, 0
msg_unexpected: db "FAIL unexpected interrupt", 10, 0
msg_exception:  db "FAIL exception", 10, 0
    align 4
timer_count:    dd 0
pm_before:      dd 0
pm_irq:         dd 0
rtc_before:     dd 0
rtc_after:      dd 0
rtc_elapsed:    dd 0
    align 8
IDT_ENTRIES equ 0x100
idt: times IDT_ENTRIES * 8 db 0
idt_desc:
    dw IDT_ENTRIES * 8 - 1
    dd idt
