; pit-pic: the 8254 PIT and the 8259A PIC pair as a small OS uses them, in
; 32-bit protected mode with an IDT:
;   - the PICs initialised (ICW1-ICW4: vector bases 0x20 and 0x28, cascade on
;     IRQ2), IMR read back;
;   - PIT channel 0 in mode 2 at divisor 11932 (100 Hz): 50 ticks waited for
;     with HLT, each acknowledged with a non-specific EOI; the time they take
;     measured on the ACPI PM timer (3.579545 MHz, port 0x608): 50 periods;
;   - IRQ0 masked: no tick arrives while the guest runs, the request stays in
;     IRR (OCW3 read), and unmasking delivers it at once;
;   - no EOI: the in-service IRQ0 (ISR, OCW3 read) holds back the next ones,
;     and the EOI delivers the one waiting;
;   - a spurious IRQ7: the I/O APIC's pin 8 (the RTC's periodic interrupt)
;     in ExtINT delivery mode makes the CPU acknowledge the 8259A, which has
;     no request (everything masked): the master answers IRQ7 (vector 0x27)
;     without setting ISR bit 7.
; Busy waits run a fixed number of instructions without exits, so the exit
; trace does not depend on how fast the machine runs. One "ok <check>" line
; per check; status 0 only if all pass.
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

DIVISOR   equ 11932          ; 1193182 Hz / 11932 = 100.0 Hz
TICKS     equ 50
PM_PER_TICK equ 35796        ; 11932 / 1193182 s at 3579545 Hz
SPIN      equ 15000000       ; busy-wait iterations: longer than a PIT period on any machine
RTC_PIN   equ 8              ; the I/O APIC pin of ISA IRQ8

    org 0x8000

start:
    XENO_ENTER_PM32_IDT main, 0x7000
main:
    XENO_PIC_INIT 0xfe, 0xff           ; only IRQ0
    in al, XENO_PIC1_DATA
    cmp al, 0xfe
    CHECK32 "pic-imr-read-back"

    XENO_PIT_START XENO_PIT_CH0_MODE2, DIVISOR

    ; ---- 50 ticks, waited for with HLT, timed on the PM timer ----
    call xeno_pm_read
    mov [pm_start], eax
    XENO_HLT_UNTIL ticks, TICKS
    call xeno_pm_read
    XENO_PM_ELAPSED eax, [pm_start]
    CHECK_IN_RANGE32 (TICKS - 1) * PM_PER_TICK, TICKS * PM_PER_TICK + PM_PER_TICK / 8
    CHECK32 "pit-50-ticks-take-50-periods"
    mov eax, [ticks]
    cmp eax, TICKS
    CHECK32 "pit-tick-count"

    ; ---- IRQ0 masked: the request waits in IRR ----
    mov al, 0xff
    out XENO_PIC1_DATA, al
    mov esi, [ticks]
    sti
    call xeno_spin
    cli
    mov eax, [ticks]
    cmp eax, esi
    CHECK32 "masked-irq0-not-delivered"
    call xeno_pic_irr
    and eax, 1
    cmp eax, 1
    CHECK32 "masked-irq0-in-irr"
    mov al, 0xfe
    out XENO_PIC1_DATA, al             ; unmask: INT with IF=0, nothing yet
    sti
    nop                                ; STI's shadow ends after this instruction
    mov eax, [ticks]
    cli
    inc esi
    cmp eax, esi
    CHECK32 "unmasked-irq0-delivered-at-once"

    ; ---- no EOI: ISR bit 0 holds the next requests back ----
    mov byte [skip_eoi], 1
    mov esi, [ticks]
    XENO_HLT_NEXT ticks
    sti
    call xeno_spin                     ; IRQ0 in service, no EOI: nothing more
    cli
    mov eax, [ticks]
    sub eax, esi
    cmp eax, 1
    CHECK32 "no-eoi-blocks-irq0"
    call xeno_pic_isr
    and eax, 0xff                      ; the master's
    cmp eax, 1
    CHECK32 "isr-bit0-without-eoi"
    mov byte [skip_eoi], 0
    mov esi, [ticks]
    XENO_PIC_EOI                       ; the request in IRR goes out at once
    sti
    nop
    mov eax, [ticks]
    cli
    inc esi
    cmp eax, esi
    CHECK32 "eoi-releases-waiting-irq0"

    ; ---- a spurious IRQ7: an interrupt acknowledge the 8259A has nothing for ----
    ; The I/O APIC's pin 8 (the RTC) in ExtINT delivery mode sends the BSP an
    ; ExtINT message: the CPU runs an INTA cycle on the 8259A, whose IRQ8 is
    ; masked, so the master answers IRQ7 (vector 0x27) without setting ISR.
    mov al, 0xff
    out XENO_PIC1_DATA, al             ; IRQ0 masked too: the PIC has no request at all
    XENO_IOAPIC_ROUTE RTC_PIN, XENO_RTE_EXTINT, 0  ; edge, active high, to APIC 0 (physical)
    mov al, XENO_RTC_A
    mov ah, 0x26                       ; periodic rate 6 (1024 Hz)
    call xeno_cmos_write
    mov al, XENO_RTC_B
    mov ah, XENO_RTC_B_PIE
    call xeno_cmos_set_bits
    mov esi, [ticks]
    XENO_HLT_UNTIL spurious, 1
    mov al, XENO_RTC_B                 ; PIE off, register C read (IRQ8 drops)
    mov ah, XENO_RTC_B_PIE
    call xeno_cmos_clear_bits
    mov al, XENO_RTC_C
    call xeno_cmos_read
    XENO_IOAPIC_ROUTE RTC_PIN, XENO_RTE_MASKED, 0
    mov eax, [spurious]
    cmp eax, 1
    CHECK32 "spurious-irq7-delivered"
    mov eax, [spurious_isr]
    cmp eax, 0
    CHECK32 "spurious-irq7-not-in-service"
    mov eax, [ticks]
    cmp eax, esi
    CHECK32 "spurious-is-not-a-tick"

    CHECK_SUMMARY32 "pit-pic: all checks passed"
    XENO_EXIT 0

irq0:
    push eax
    inc dword [ticks]
    cmp byte [skip_eoi], 0
    jne .done
    XENO_PIC_EOI
.done:
    pop eax
    iret

irq7:
    push eax
    inc dword [spurious]
    call xeno_pic_isr                  ; a real IRQ7 would be in service
    and eax, 0x80
    mov [spurious_isr], eax
    pop eax
    iret                               ; no EOI for a spurious interrupt

    XENO_IRQ_ROUTINES SPIN
    XENO_FLAT_GDT

    align 4
ticks:        dd 0
spurious:     dd 0
spurious_isr: dd 0
pm_start:     dd 0
skip_eoi:     db 0
    XENO_IDT32 0x30, xeno_exception, xeno_unexpected_irq, XENO_PIC1_VECTOR, irq0, XENO_PIC1_VECTOR + 7, irq7
