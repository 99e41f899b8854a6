; rtc: the MC146818 real-time clock and CMOS RAM (ports 0x70/0x71, IRQ8) as
; a PC BIOS and an OS use them, in 32-bit protected mode with an IDT. IRQ8
; goes through the slave 8259A (cascade on the master's IRQ2); the handler
; reads register C and sends an EOI to the slave and then to the master.
;   - static: register D reads VRT (0x80) and ignores writes, A is 0x26 and
;     B 0x02 at power-on, the century byte 0x32, the NVRAM memory bytes for
;     MEM_MB of guest RAM (0x15/0x16 base KiB, 0x17/0x18 and 0x30/0x31 KiB
;     above 1 MiB capped at 0xffff, 0x34/0x35 64 KiB blocks above 16 MiB)
;     and the checksum 0x2e/0x2f over 0x10-0x2d; bit 7 of the index (the
;     PC's NMI mask) does not change what is read or written;
;   - the update-ended interrupt (UIE) as the way to read the clock: right
;     after it the next update is ~1 s away (UIP reads 0), so the date and
;     time are read without polling UIP; the date is the hypervisor's default
;     epoch, 2026-01-01 (a Thursday), the time 00:00:0x;
;   - one update per second (two of them timed on the ACPI PM timer);
;   - register C: IRQF|UF on an update, cleared by the read; without the read
;     IRQF stays set and IRQ8 stays quiet (1.5 s, 30 PIT ticks, across an
;     update); after the read the next update interrupts again;
;   - the periodic interrupt at 1024, 128 and 2 Hz: N interrupts timed on the
;     PM timer take N periods (within one period either way);
;   - the alarm: set for the time read after an update plus 2 s, with only AIE
;     on, it fires once, 2 s after that update;
;   - SET (updates stopped, UIE cleared), binary mode (DM) counting through
;     2026-12-31 23:59:58 into 2027; 12-hour mode (11 PM -> 12 AM and the
;     next day, 11 AM -> 12 PM, 12 PM -> 1 PM); the century byte counting
;     into 2100, which is not a leap year, and 2028, which is.
; Timing rules (the exit trace must not depend on how fast the machine
; runs): IF is 0 except in `sti; hlt; cli` waits for an event that comes
; later, so every wait is exactly one HLT exit per interrupt; only one
; interrupt source is enabled at a time; nothing polls a device. Results are
; recorded and printed after the last timed part, one "ok <check>" or
; "FAIL <check> got=<value>" line each; status 0 only if all pass.
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

PM_MS       equ 3580            ; PM timer ticks in a millisecond (3579.545)
NMI_MASK    equ 0x80            ; bit 7 of the CMOS index: the PC's NMI mask
CMOS_SCRATCH equ 0x7e           ; a byte no convention uses

; The bits of the clock's registers (the registers: XENO_RTC_* in xeno_pc.inc).
A_UIP       equ 0x80
A_DV_32K    equ 0x20            ; 32.768 kHz time base, divider running
B_SET       equ 0x80
B_AIE       equ 0x20
B_UIE       equ 0x10
B_DM_BINARY equ 0x04
B_24H       equ 0x02
C_IRQF      equ 0x80
C_PF        equ 0x40
C_AF        equ 0x20
C_UF        equ 0x10
D_VRT       equ 0x80
HOUR_PM     equ 0x80            ; 12-hour mode

MEM_MB      equ 72              ; = [guest] memory_mb in scenario.toml
BASE_KIB    equ 640
%if (MEM_MB - 1) * 1024 > 0xffff
EXT_KIB     equ 0xffff          ; the 16-bit count saturates above 64 MiB
%else
EXT_KIB     equ (MEM_MB - 1) * 1024
%endif
%if MEM_MB > 16
BLOCKS_64K  equ (MEM_MB - 16) * 16
%else
BLOCKS_64K  equ 0
%endif

PIT_20HZ    equ 59659           ; 1193182 / 59659 = 20.0 Hz
HELD_TICKS  equ 30              ; 1.5 s: IRQ8 held across an update

; Deferred checks: DCHECK "name" after a compare records ZF (1 passes) and
; EAX; dcheck_report prints them all at the end, as CHECK32 would have.
%macro DCHECK 1
    call %%record
    db %1, 0
%%record:
    call dcheck_record
    lea esp, [esp + 4]                 ; the name's address (LEA keeps the flags)
%endmacro

    org 0x8000

start:
    XENO_ENTER_PM32_IDT main, 0x7000
main:
    XENO_PIC_INIT 0xfb, 0xfe           ; only the cascade (IRQ2) and IRQ8

    ; ---- static registers and NVRAM ----
    mov al, XENO_RTC_D
    call xeno_cmos_read
    cmp eax, D_VRT
    DCHECK "regd-vrt-set"
    mov al, XENO_RTC_D
    mov ah, 0
    call xeno_cmos_write
    mov al, XENO_RTC_D
    call xeno_cmos_read
    cmp eax, D_VRT
    DCHECK "regd-write-ignored"
    mov al, XENO_RTC_A
    call xeno_cmos_read
    and eax, ~A_UIP                    ; UIP depends on the moment of the read
    cmp eax, 0x26
    DCHECK "rega-power-on-0x26"
    mov al, XENO_RTC_B
    call xeno_cmos_read
    cmp eax, B_24H
    DCHECK "regb-power-on-bcd-24h"
    mov al, XENO_RTC_CENTURY
    call xeno_cmos_read
    cmp eax, 0x20
    DCHECK "century-byte-0x20"
    mov al, 0x15
    call cmos_read16
    cmp eax, BASE_KIB
    DCHECK "nvram-base-memory-640k"
    mov al, 0x17
    call cmos_read16
    cmp eax, EXT_KIB
    DCHECK "nvram-extended-kib-0x17"
    mov al, 0x30
    call cmos_read16
    cmp eax, EXT_KIB
    DCHECK "nvram-extended-kib-0x30"
    mov al, 0x34
    call cmos_read16
    cmp eax, BLOCKS_64K
    DCHECK "nvram-64k-blocks-above-16m"
    call cmos_checksum_ok
    DCHECK "nvram-checksum-0x2e"
    ; The NMI mask bit of the index: the same byte either way.
    mov al, 0x15 | NMI_MASK
    call xeno_cmos_read
    cmp eax, BASE_KIB & 0xff
    DCHECK "nmi-bit-read-nvram"
    mov al, XENO_RTC_CENTURY | NMI_MASK
    call xeno_cmos_read
    cmp eax, 0x20
    DCHECK "nmi-bit-read-century"
    mov al, CMOS_SCRATCH | NMI_MASK
    mov ah, 0x5a
    call xeno_cmos_write
    mov al, CMOS_SCRATCH
    call xeno_cmos_read
    cmp eax, 0x5a
    DCHECK "nmi-bit-write-scratch"
    mov al, XENO_RTC_D                 ; NMI unmasked again
    out XENO_CMOS_INDEX, al

    ; No periodic rate from here (RS = 0: PF stays clear) until the PIE part.
    mov al, XENO_RTC_A
    mov ah, A_DV_32K
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read

    ; ---- the update-ended interrupt: sync, then read the clock ----
    mov byte [capture_isr], 1
    mov al, XENO_RTC_B
    mov ah, B_UIE | B_24H
    call xeno_cmos_write
    call wait_irq8
    call xeno_pm_read
    mov [pm_start], eax
    mov eax, [last_c]
    cmp eax, C_IRQF | C_UF
    DCHECK "regc-update-irqf-uf"
    mov eax, [slave_isr]
    cmp eax, 0x01
    DCHECK "slave-isr-irq8-in-service"
    mov eax, [master_isr]
    cmp eax, 0x04
    DCHECK "master-isr-cascade-in-service"
    call xeno_pic_isr
    cmp eax, 0
    DCHECK "eoi-clears-slave-and-master-isr"
    mov al, XENO_RTC_C
    call xeno_cmos_read
    cmp eax, 0
    DCHECK "regc-read-clears"
    mov al, XENO_RTC_A
    call xeno_cmos_read
    cmp eax, A_DV_32K
    DCHECK "uip-clear-after-update"
    call read_clock
    mov eax, [clk_year]
    cmp eax, 0x26
    DCHECK "epoch-year-26"
    mov eax, [clk_century]
    cmp eax, 0x20
    DCHECK "epoch-century-20"
    mov eax, [clk_month]
    cmp eax, 0x01
    DCHECK "epoch-month-01"
    mov eax, [clk_mday]
    cmp eax, 0x01
    DCHECK "epoch-day-01"
    mov eax, [clk_wday]
    cmp eax, 5
    DCHECK "epoch-thursday"
    mov eax, [clk_hour]
    cmp eax, 0
    DCHECK "epoch-hour-00"
    mov eax, [clk_min]
    cmp eax, 0
    DCHECK "epoch-minute-00"
    ; The clock starts at the epoch when the domain is built; the guest gets
    ; here at its first update or the one after: a few seconds at most.
    mov eax, [clk_sec]
    CHECK_IN_RANGE32 0, 0x05
    DCHECK "epoch-seconds-below-6"
    mov al, [clk_sec]
    call xeno_bcd_to_bin
    mov [sec_start], eax

    ; ---- one update per second ----
    call wait_irq8
    call wait_irq8
    call xeno_pm_read
    XENO_PM_ELAPSED eax, [pm_start]
    ; Both ends are read right after an update interrupt: 2 s, +-1 ms for
    ; the handler's latency.
    CHECK_IN_RANGE32 2 * XENO_PM_HZ - PM_MS, 2 * XENO_PM_HZ + PM_MS
    DCHECK "uie-two-updates-take-2s"
    mov eax, [last_c]
    cmp eax, C_IRQF | C_UF
    DCHECK "uie-regc-each-second"
    mov al, XENO_RTC_SEC
    call xeno_cmos_read
    call xeno_bcd_to_bin
    sub eax, [sec_start]
    cmp eax, 2
    DCHECK "uie-seconds-advance-by-2"

    ; ---- IRQ8 needs register C read ----
    mov byte [skip_c_read], 1
    call wait_irq8                     ; this one leaves IRQF set
    mov eax, [rtc_irqs]
    mov [rtc_irqs_before], eax
    ; 30 PIT ticks at 20 Hz (1.5 s, an update among them), waited with HLT.
    XENO_PIT_START XENO_PIT_CH0_MODE2, PIT_20HZ
    mov al, 0xfa                       ; master: IRQ0 and the cascade
    out XENO_PIC1_DATA, al
    XENO_HLT_UNTIL pit_ticks, HELD_TICKS
    mov al, 0xfb                       ; IRQ0 masked again
    out XENO_PIC1_DATA, al
    mov al, XENO_PIT_CH0_MODE0         ; mode 0 without a count: OUT0 low, stopped
    out XENO_PIT_CMD, al
    mov eax, [rtc_irqs]
    sub eax, [rtc_irqs_before]
    cmp eax, 0
    DCHECK "irq8-held-while-regc-unread"
    mov byte [skip_c_read], 0
    mov al, XENO_RTC_C
    call xeno_cmos_read
    cmp eax, C_IRQF | C_UF
    DCHECK "regc-irqf-uf-still-set"
    call wait_irq8                     ; the next update interrupts again
    mov eax, [rtc_irqs]
    sub eax, [rtc_irqs_before]
    cmp eax, 1
    DCHECK "irq8-again-after-regc-read"

    ; ---- the periodic interrupt at three rates ----
    mov al, XENO_RTC_B
    mov ah, B_24H
    call xeno_cmos_write
    mov ecx, 6                         ; RS 6: 1024 Hz
    mov edx, 32
    call periodic_run
    DCHECK "periodic-1024hz-32-periods"
    mov ecx, 9                         ; RS 9: 128 Hz
    mov edx, 16
    call periodic_run
    DCHECK "periodic-128hz-16-periods"
    mov ecx, 15                        ; RS 15: 2 Hz
    mov edx, 2
    call periodic_run
    DCHECK "periodic-2hz-2-periods"
    mov eax, [last_c]
    and eax, C_IRQF | C_PF
    cmp eax, C_IRQF | C_PF
    DCHECK "periodic-regc-irqf-pf"
    mov al, XENO_RTC_A
    mov ah, A_DV_32K
    call xeno_cmos_write

    ; ---- the alarm: the time after an update plus 2 s ----
    mov al, XENO_RTC_B
    mov ah, B_UIE | B_24H
    call xeno_cmos_write
    call wait_irq8
    call read_clock
    call clock_seconds                 ; EAX = seconds of the day
    add eax, 2
    cmp eax, 86400
    jb .no_wrap
    sub eax, 86400
.no_wrap:
    call seconds_to_bcd                ; EAX = 00hhmmss in BCD
    mov [alarm_hms], eax
    mov ah, al
    mov al, XENO_RTC_SEC_ALARM
    call xeno_cmos_write
    mov ah, [alarm_hms + 1]
    mov al, XENO_RTC_MIN_ALARM
    call xeno_cmos_write
    mov ah, [alarm_hms + 2]
    mov al, XENO_RTC_HOUR_ALARM
    call xeno_cmos_write
    mov al, XENO_RTC_B                 ; only the alarm: the update in between is silent
    mov ah, B_AIE | B_24H
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read
    call xeno_pm_read
    mov [pm_start], eax
    call wait_irq8
    call xeno_pm_read
    XENO_PM_ELAPSED eax, [pm_start]
    ; Set just after an update: the alarm comes with the second update,
    ; 2 s later (+-5 ms for the handler's latency and the set-up).
    CHECK_IN_RANGE32 2 * XENO_PM_HZ - 5 * PM_MS, 2 * XENO_PM_HZ + 5 * PM_MS
    DCHECK "alarm-fires-2s-later"
    mov eax, [last_c]
    and eax, C_IRQF | C_AF
    cmp eax, C_IRQF | C_AF
    DCHECK "alarm-regc-irqf-af"
    call read_clock
    call clock_seconds
    call seconds_to_bcd
    cmp eax, [alarm_hms]
    DCHECK "alarm-at-alarm-time"

    ; ---- SET and binary mode: into 2027 ----
    ; Right after the alarm's update: the next one is ~1 s away.
    mov al, XENO_RTC_B
    mov ah, B_SET | B_UIE | B_DM_BINARY | B_24H
    call xeno_cmos_write
    mov al, XENO_RTC_B
    call xeno_cmos_read
    cmp eax, B_SET | B_DM_BINARY | B_24H
    DCHECK "set-clears-uie"
    mov esi, date_2026_12_31_bin
    call write_clock
    mov al, XENO_RTC_B
    mov ah, B_UIE | B_DM_BINARY | B_24H
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read
    call wait_irq8
    mov al, XENO_RTC_SEC
    call xeno_cmos_read
    cmp eax, 59                        ; 0x3b: binary, not BCD
    DCHECK "binary-seconds-59"
    call wait_irq8
    call read_clock
    mov esi, date_2027_01_01_bin
    call clock_equals
    DCHECK "binary-new-year-2027"

    ; ---- 12-hour mode (BCD) ----
    mov eax, HOUR_PM | 0x11
    mov ebx, date_2027_01_01_bcd       ; 11:59:59 PM -> 12 AM on the 2nd
    call twelve_hour_step
    cmp eax, 0x12
    DCHECK "12h-11pm-to-12am"
    mov esi, date_2027_01_02_bcd
    call date_equals
    DCHECK "12h-midnight-next-day"
    mov eax, 0x11                      ; 11:59:59 AM -> 12 PM
    mov ebx, date_2027_01_02_bcd
    call twelve_hour_step
    cmp eax, HOUR_PM | 0x12
    DCHECK "12h-11am-to-12pm"
    mov eax, HOUR_PM | 0x12            ; 12:59:59 PM -> 1 PM
    mov ebx, date_2027_01_02_bcd
    call twelve_hour_step
    cmp eax, HOUR_PM | 0x01
    DCHECK "12h-12pm-to-1pm"

    ; ---- the century byte and leap years (BCD, 24-hour) ----
    mov esi, date_2099_12_31_bcd
    mov edi, date_2100_01_01_bcd
    call midnight_step
    DCHECK "century-2099-to-2100"
    mov esi, date_2100_02_28_bcd
    mov edi, date_2100_03_01_bcd
    call midnight_step
    DCHECK "2100-not-a-leap-year"
    mov esi, date_2028_02_28_bcd
    mov edi, date_2028_02_29_bcd
    call midnight_step
    DCHECK "2028-leap-year"

    mov al, XENO_RTC_B                 ; interrupts off
    mov ah, B_24H
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read

    ; ---- results ----
    call dcheck_report
    CHECK_SUMMARY32 "rtc: all checks passed"
    XENO_EXIT 0

; ---------------------------------------------------------------------------
; Timed helpers

; One RTC interrupt, waited for with HLT (IF is 0 outside these waits).
wait_irq8:
    XENO_HLT_NEXT rtc_irqs
    ret

; Periodic interrupts at rate select ECX: one to start on the chain's edge,
; then EDX more timed on the PM timer. ZF=1 when they took EDX periods
; within one period either way; EAX = PM ticks taken.
periodic_run:
    push ebx
    push ecx
    push edx
    push esi
    push edi
    ; The period in PM ticks: 2^(RS-1) / 32768 s = XENO_PM_HZ >> (16 - RS).
    mov ah, A_DV_32K
    or ah, cl
    neg ecx
    add ecx, 16
    mov ebx, XENO_PM_HZ
    shr ebx, cl                        ; the period
    mov al, XENO_RTC_A
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read
    mov al, XENO_RTC_B
    mov ah, XENO_RTC_B_PIE | B_24H
    call xeno_cmos_write
    call wait_irq8
    call xeno_pm_read
    mov esi, eax
    mov ecx, edx
.more:
    call wait_irq8
    loop .more
    call xeno_pm_read
    XENO_PM_ELAPSED eax, esi
    mov edi, eax                       ; the elapsed ticks
    mov al, XENO_RTC_B
    mov ah, B_24H
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read
    ; (EDX - 1) * period <= elapsed <= (EDX + 1) * period
    lea ecx, [edx - 1]
    imul ecx, ebx
    lea eax, [edx + 1]
    imul eax, ebx
    mov ebx, ecx
    mov edx, eax
    mov eax, edi
    call check_in_range
    pop edi
    pop esi
    pop edx
    pop ecx
    pop ebx
    ret

; 12-hour mode, BCD: with SET, the date at EBX and the time <EAX hour>:59:59,
; then one update. EAX = the hour byte after it.
twelve_hour_step:
    mov esi, ebx
    mov ah, B_UIE                      ; 12-hour, BCD
    call step_over_update
    mov eax, [clk_hour]
    ret

; 24-hour BCD: with SET, the date at ESI at 23:59:59, one update; ZF=1 when
; the clock then reads the date at EDI at 00:00:00. EAX = the date read.
midnight_step:
    mov al, 0x23
    mov ah, B_UIE | B_24H
    call step_over_update
    mov esi, edi
    jmp clock_equals

; With SET in register B (AH | B_SET: the clock stopped), the date record at
; ESI and the time <AL hour>:59:59 written; then register B = AH (UIE on in
; both callers), register C read, one update waited for and the clock read.
step_over_update:
    push eax
    mov al, XENO_RTC_B
    or ah, B_SET
    call xeno_cmos_write
    call write_date
    mov eax, [esp]
    mov ah, al
    mov al, XENO_RTC_HOUR
    call xeno_cmos_write
    mov al, XENO_RTC_MIN
    mov ah, 0x59
    call xeno_cmos_write
    mov al, XENO_RTC_SEC
    mov ah, 0x59
    call xeno_cmos_write
    pop eax
    mov al, XENO_RTC_B
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read
    call wait_irq8
    jmp read_clock

; ---------------------------------------------------------------------------
; CMOS access (xeno_cmos_read and xeno_cmos_write: xeno_pc.inc)

; AL = index of a little-endian 16-bit value -> EAX.
cmos_read16:
    push ebx
    mov bl, al
    inc al
    call xeno_cmos_read
    shl eax, 8
    xchg eax, ebx
    call xeno_cmos_read
    or eax, ebx
    pop ebx
    ret

; ZF=1 when the sum of 0x10-0x2d equals the big-endian word at 0x2e/0x2f.
; EAX = the sum.
cmos_checksum_ok:
    push ebx
    push ecx
    xor ebx, ebx
    mov ecx, 0x10
.sum:
    mov al, cl
    call xeno_cmos_read
    add ebx, eax
    inc ecx
    cmp ecx, 0x2d
    jbe .sum
    mov al, 0x2e
    call xeno_cmos_read
    shl eax, 8
    mov ecx, eax
    mov al, 0x2f
    call xeno_cmos_read
    or ecx, eax
    mov eax, ebx
    cmp ecx, ebx
    pop ecx
    pop ebx
    ret

; The clock into clk_* (bytes as read, zero-extended).
read_clock:
    push eax
    push ebx
    push esi
    mov esi, clock_regs
    mov ebx, clk_sec
.next:
    mov al, [esi]
    cmp al, 0xff
    je fields_done                     ; write_fields' end: the same registers saved
    call xeno_cmos_read
    mov [ebx], eax
    inc esi
    add ebx, 4
    jmp .next

; A date record at ESI (mday, month, year, century, weekday bytes) into the
; clock; a time record (a date_* label - 3: sec, min, hour first) with
; write_clock.
write_date:
    push eax
    push ebx
    push esi
    mov ebx, date_regs
    jmp write_fields
write_clock:
    push eax
    push ebx
    push esi
    sub esi, 3
    mov ebx, clock_write_regs
write_fields:
.next:
    mov al, [ebx]
    cmp al, 0xff
    je fields_done
    mov ah, [esi]
    call xeno_cmos_write
    inc ebx
    inc esi
    jmp .next
fields_done:
    pop esi
    pop ebx
    pop eax
    ret

; ZF=1 when clk_mday, month, year, century, wday equal the record at ESI.
; EAX = mday | month << 8 | year << 16 | century << 24 as read.
date_equals:
    push ebx
    mov eax, [clk_century]
    shl eax, 8
    or eax, [clk_year]
    shl eax, 8
    or eax, [clk_month]
    shl eax, 8
    or eax, [clk_mday]
    cmp eax, [esi]
    jne .done
    movzx ebx, byte [esi + 4]
    cmp ebx, [clk_wday]
.done:
    pop ebx
    ret

; ZF=1 when the clock reads the record at ESI (date) at 00:00:00.
clock_equals:
    call date_equals
    jne .done
    mov eax, [clk_hour]
    or eax, [clk_min]
    or eax, [clk_sec]
    cmp eax, 0
.done:
    ret

; clk_hour:min:sec (BCD, 24-hour) -> EAX = seconds of the day.
clock_seconds:
    push ebx
    mov al, [clk_hour]
    call xeno_bcd_to_bin
    imul ebx, eax, 3600
    mov al, [clk_min]
    call xeno_bcd_to_bin
    imul eax, eax, 60
    add ebx, eax
    mov al, [clk_sec]
    call xeno_bcd_to_bin
    add eax, ebx
    pop ebx
    ret

; EAX = seconds of the day -> EAX = hour << 16 | min << 8 | sec, in BCD.
seconds_to_bcd:
    push ebx
    push ecx
    push edx
    xor edx, edx
    mov ecx, 3600
    div ecx                            ; EAX hours, EDX the rest
    call bin_to_bcd
    mov ebx, eax
    mov eax, edx
    xor edx, edx
    mov ecx, 60
    div ecx                            ; EAX minutes, EDX seconds
    call bin_to_bcd
    shl ebx, 8
    or ebx, eax
    mov eax, edx
    call bin_to_bcd
    shl ebx, 8
    or eax, ebx
    pop edx
    pop ecx
    pop ebx
    ret

; EAX = 0..99 -> EAX = two BCD digits.
bin_to_bcd:
    push ecx
    push edx
    xor edx, edx
    mov ecx, 10
    div ecx
    shl eax, 4
    or eax, edx
    pop edx
    pop ecx
    ret

irq0:
    push eax
    inc dword [pit_ticks]
    XENO_PIC_EOI
    pop eax
    iret

; IRQ8: slave input 0, through the master's IRQ2.
irq8:
    push eax
    inc dword [rtc_irqs]
    cmp byte [capture_isr], 0
    je .no_capture
    mov byte [capture_isr], 0
    call xeno_pic_isr
    mov [master_isr], al
    mov [slave_isr], ah
.no_capture:
    cmp byte [skip_c_read], 0
    jne .eoi
    mov al, XENO_RTC_C                 ; acknowledges the RTC: IRQF and the flags clear
    call xeno_cmos_read
    mov [last_c], eax
.eoi:
    XENO_PIC_EOI_CASCADED
    pop eax
    iret

; ---------------------------------------------------------------------------
DCHECK_MAX equ 80

dcheck_record:
    pushf
    push ebx
    push ecx
    setz cl
    mov ebx, [dcheck_count]
    cmp ebx, DCHECK_MAX
    jae .full
    imul ebx, ebx, 12
    mov [dchecks + ebx + 4], eax
    mov [dchecks + ebx + 8], cl
    mov ecx, [esp + 16]                ; the name, after the flags, EBX, ECX, return address
    mov [dchecks + ebx], ecx
    inc dword [dcheck_count]
    jmp .done
.full:
    inc dword [dcheck_lost]
.done:
    pop ecx
    pop ebx
    popf
    ret

dcheck_report:
    xor ebx, ebx
.next:
    cmp ebx, [dcheck_count]
    jae .done
    imul edi, ebx, 12
    mov esi, [dchecks + edi]
    mov eax, [dchecks + edi + 4]
    cmp byte [dchecks + edi + 8], 1
    jne .fail
    push esi
    mov esi, msg_ok
    call xeno_puts32
    pop esi
    call xeno_puts32
    jmp .eol
.fail:
    inc dword [failures]
    push esi
    mov esi, msg_fail
    call xeno_puts32
    pop esi
    call xeno_puts32
    mov esi, msg_got
    call xeno_puts32
    call xeno_hex32
.eol:
    mov al, 10
    call xeno_putc32
    inc ebx
    jmp .next
.done:
    mov eax, [dcheck_lost]
    cmp eax, 0
    CHECK32 "all-checks-recorded"
    ret

    XENO_IRQ_ROUTINES
    XENO_FLAT_GDT

; The clock registers read_clock reads, in the order of clk_*.
clock_regs: db XENO_RTC_SEC, XENO_RTC_MIN, XENO_RTC_HOUR, XENO_RTC_WDAY, XENO_RTC_MDAY, XENO_RTC_MONTH, XENO_RTC_YEAR, XENO_RTC_CENTURY, 0xff
; write_clock: a time and date record (sec, min, hour, mday, month, year,
; century, wday); write_date: its date part.
clock_write_regs: db XENO_RTC_SEC, XENO_RTC_MIN, XENO_RTC_HOUR
date_regs:        db XENO_RTC_MDAY, XENO_RTC_MONTH, XENO_RTC_YEAR, XENO_RTC_CENTURY, XENO_RTC_WDAY, 0xff

; Date records: mday, month, year, century (the dword date_equals compares)
; and the weekday (1 = Sunday); _bin ones in binary, _bcd ones in BCD.
; Records that write_clock takes have the time (sec, min, hour) before them.
    db 58, 59, 23
date_2026_12_31_bin: db 31, 12, 26, 20, 5     ; a Thursday
date_2027_01_01_bin: db 1, 1, 27, 20, 6       ; a Friday
date_2027_01_01_bcd: db 0x01, 0x01, 0x27, 0x20, 6
date_2027_01_02_bcd: db 0x02, 0x01, 0x27, 0x20, 7
date_2099_12_31_bcd: db 0x31, 0x12, 0x99, 0x20, 5   ; a Thursday
date_2100_01_01_bcd: db 0x01, 0x01, 0x00, 0x21, 6
date_2100_02_28_bcd: db 0x28, 0x02, 0x00, 0x21, 1   ; a Sunday
date_2100_03_01_bcd: db 0x01, 0x03, 0x00, 0x21, 2
date_2028_02_28_bcd: db 0x28, 0x02, 0x28, 0x20, 2   ; a Monday
date_2028_02_29_bcd: db 0x29, 0x02, 0x28, 0x20, 3

    align 4
clk_sec:     dd 0
clk_min:     dd 0
clk_hour:    dd 0
clk_wday:    dd 0
clk_mday:    dd 0
clk_month:   dd 0
clk_year:    dd 0
clk_century: dd 0
rtc_irqs:        dd 0
rtc_irqs_before: dd 0
pit_ticks:       dd 0
last_c:          dd 0
master_isr:      dd 0
slave_isr:       dd 0
pm_start:        dd 0
sec_start:       dd 0
alarm_hms:       dd 0
dcheck_count:    dd 0
dcheck_lost:     dd 0
capture_isr:     db 0
skip_c_read:     db 0
    align 4
dchecks: times DCHECK_MAX * 12 db 0
    XENO_IDT32 0x30, xeno_exception, xeno_unexpected_irq, XENO_PIC1_VECTOR, irq0, XENO_PIC2_VECTOR, irq8
