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
%include "xeno.inc"
%include "xeno_check.inc"

PIC1_CMD  equ 0x20
PIC1_DATA equ 0x21
PIC2_CMD  equ 0xa0
PIC2_DATA equ 0xa1
PIT_CH0   equ 0x40
PIT_CMD   equ 0x43
PM_TMR    equ 0x608
DIVISOR   equ 11932          ; 1193182 Hz / 11932 = 100.0 Hz
TICKS     equ 50
PM_PER_TICK equ 35796        ; 11932 / 1193182 s at 3579545 Hz
SPIN      equ 15000000
IOAPIC_SEL equ 0xfec00000
IOAPIC_WIN equ 0xfec00010       ; busy-wait iterations: longer than a PIT period on any machine

    org 0x8000

start:
    XENO_ENTER_PM32 main, 0x7000

    bits 32
main:
    call setup_idt
    lidt [idt_desc]
    call init_pics
    in al, PIC1_DATA
    cmp al, 0xfe
    CHECK32 "pic-imr-read-back"

    ; PIT channel 0: lobyte/hibyte, mode 2 (rate generator), binary.
    mov al, 0x34
    out PIT_CMD, al
    mov al, DIVISOR & 0xff
    out PIT_CH0, al
    mov al, DIVISOR >> 8
    out PIT_CH0, al

    ; ---- 50 ticks, waited for with HLT, timed on the PM timer ----
    mov dx, PM_TMR
    in eax, dx
    mov [pm_start], eax
    sti
.wait_ticks:
    hlt
    cmp dword [ticks], TICKS
    jb .wait_ticks
    cli
    mov dx, PM_TMR
    in eax, dx
    sub eax, [pm_start]
    and eax, 0xffffff                  ; the PM timer is 24 bits wide
    mov ebx, eax
    cmp ebx, (TICKS - 1) * PM_PER_TICK
    setae cl
    cmp ebx, TICKS * PM_PER_TICK + PM_PER_TICK / 8
    setbe ch
    and cl, ch
    cmp cl, 1
    CHECK32 "pit-50-ticks-take-50-periods"
    mov eax, [ticks]
    cmp eax, TICKS
    CHECK32 "pit-tick-count"

    ; ---- IRQ0 masked: the request waits in IRR ----
    mov al, 0xff
    out PIC1_DATA, al
    mov esi, [ticks]
    sti
    call spin
    cli
    mov eax, [ticks]
    cmp eax, esi
    CHECK32 "masked-irq0-not-delivered"
    mov al, 0x0a                       ; OCW3: read IRR
    out PIC1_CMD, al
    in al, PIC1_CMD
    and eax, 1
    cmp eax, 1
    CHECK32 "masked-irq0-in-irr"
    mov al, 0xfe
    out PIC1_DATA, al                  ; unmask: INT with IF=0, nothing yet
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
    sti
.wait_one:
    hlt
    cmp [ticks], esi
    je .wait_one
    call spin                          ; IRQ0 in service, no EOI: nothing more
    cli
    mov eax, [ticks]
    sub eax, esi
    cmp eax, 1
    CHECK32 "no-eoi-blocks-irq0"
    mov al, 0x0b                       ; OCW3: read ISR
    out PIC1_CMD, al
    in al, PIC1_CMD
    and eax, 0xff
    cmp eax, 1
    CHECK32 "isr-bit0-without-eoi"
    mov byte [skip_eoi], 0
    mov esi, [ticks]
    mov al, 0x20                       ; the EOI: the request in IRR goes out at once
    out PIC1_CMD, al
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
    out PIC1_DATA, al                  ; IRQ0 masked too: the PIC has no request at all
    mov dword [IOAPIC_SEL], 0x10 + 2 * 8
    mov dword [IOAPIC_WIN], 0x700      ; ExtINT, edge, active high, unmasked
    mov dword [IOAPIC_SEL], 0x11 + 2 * 8
    mov dword [IOAPIC_WIN], 0          ; destination: APIC 0 (physical)
    mov al, 0x0a                       ; RTC register A: periodic rate 6 (1024 Hz)
    out 0x70, al
    mov al, 0x26
    out 0x71, al
    mov al, 0x0b                       ; register B: PIE
    out 0x70, al
    in al, 0x71
    or al, 0x40
    mov bl, al
    mov al, 0x0b
    out 0x70, al
    mov al, bl
    out 0x71, al
    mov esi, [ticks]
    sti
.wait_spurious:
    hlt
    cmp dword [spurious], 0
    je .wait_spurious
    cli
    mov al, 0x0b                       ; PIE off, register C read (IRQ8 drops)
    out 0x70, al
    in al, 0x71
    and al, ~0x40
    mov bl, al
    mov al, 0x0b
    out 0x70, al
    mov al, bl
    out 0x71, al
    mov al, 0x0c
    out 0x70, al
    in al, 0x71
    mov dword [IOAPIC_SEL], 0x10 + 2 * 8
    mov dword [IOAPIC_WIN], 0x10000    ; masked again
    mov eax, [spurious]
    cmp eax, 1
    CHECK32 "spurious-irq7-delivered"
    mov eax, [spurious_isr]
    cmp eax, 0
    CHECK32 "spurious-irq7-not-in-service"
    mov eax, [ticks]
    cmp eax, esi
    CHECK32 "spurious-is-not-a-tick"

    cmp dword [failures], 0
    jne .failed
    mov esi, msg_all
    call xeno_puts32
    XENO_EXIT 0
.failed:
    XENO_EXIT 1

; A fixed number of instructions without exits.
spin:
    push ecx
    mov ecx, SPIN
.loop:
    dec ecx
    jnz .loop
    pop ecx
    ret

init_pics:
    mov al, 0x11                       ; ICW1: edge, cascade, ICW4 follows
    out PIC1_CMD, al
    out PIC2_CMD, al
    mov al, 0x20                       ; ICW2: vector bases
    out PIC1_DATA, al
    mov al, 0x28
    out PIC2_DATA, al
    mov al, 0x04                       ; ICW3: slave on IRQ2
    out PIC1_DATA, al
    mov al, 0x02
    out PIC2_DATA, al
    mov al, 0x01                       ; ICW4: 8086 mode
    out PIC1_DATA, al
    out PIC2_DATA, al
    mov al, 0xfe                       ; OCW1: only IRQ0
    out PIC1_DATA, al
    mov al, 0xff
    out PIC2_DATA, al
    ret

; IDT: vectors 0-31 -> exception, 0x20 -> irq0, 0x27 -> irq7, others -> unexpected.
setup_idt:
    xor ecx, ecx
.gate:
    mov eax, exception
    cmp ecx, 0x20
    jb .set
    mov eax, unexpected_irq
    cmp ecx, 0x20
    jne .not0
    mov eax, irq0
.not0:
    cmp ecx, 0x27
    jne .set
    mov eax, irq7
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

irq0:
    push eax
    inc dword [ticks]
    cmp byte [skip_eoi], 0
    jne .done
    mov al, 0x20                       ; non-specific EOI
    out PIC1_CMD, al
.done:
    pop eax
    iret

irq7:
    push eax
    inc dword [spurious]
    mov al, 0x0b                       ; OCW3: read ISR (a real IRQ7 would be in service)
    out PIC1_CMD, al
    in al, PIC1_CMD
    and eax, 0x80
    mov [spurious_isr], eax
    pop eax
    iret                               ; no EOI for a spurious interrupt

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

msg_all:        db "pit-pic: all checks passed", 10, 0
msg_unexpected: db "FAIL unexpected interrupt", 10, 0
msg_exception:  db "FAIL exception", 10, 0
    align 4
ticks:        dd 0
spurious:     dd 0
spurious_isr: dd 0
pm_start:     dd 0
skip_eoi:     db 0
    align 8
IDT_ENTRIES equ 0x30
idt: times IDT_ENTRIES * 8 db 0
idt_desc:
    dw IDT_ENTRIES * 8 - 1
    dd idt
