; ioapic: the I/O APIC (Intel 82093AA datasheet 290566, with the directed EOI
; register of later chipsets) routing the PC's interrupt sources to the local
; APIC, in 32-bit protected mode with an IDT, both 8259As masked:
;   - the version register (0x00170020: 24 entries, version 0x20); the ID
;     (bits 27:24, four bits wide) is writable and the arbitration ID is
;     loaded with it; every redirection entry comes out of reset masked;
;   - edge entries on pin 2 (the PIT, ISA IRQ0): PIT mode 2 at 200 Hz
;     delivers one interrupt per period (6 interrupts span 5 periods on the
;     PM timer); an edge that arrives while the entry is masked is lost, and
;     unmasking with the line still high delivers nothing; PIT mode 0 raises
;     OUT0 once and keeps it high: one interrupt;
;   - a level entry on pin 8 (the RTC's periodic interrupt: IRQ8 stays high
;     until register C is read): delivered with TMR set in the local APIC,
;     remote IRR (bit 14) reads 1 while it is in service; each local APIC EOI
;     is broadcast to the I/O APIC, clears remote IRR and, the line still
;     high, delivers again; after register C is read the EOI clears remote
;     IRR with nothing more to deliver;
;   - directed EOI: with the local APIC's EOI-broadcast suppression (SVR bit
;     12; version bit 24 says it is there) the local EOI leaves remote IRR
;     set and nothing is delivered although the line is high; a write of the
;     vector to the I/O APIC's EOI register (0x40) clears remote IRR and
;     delivers again;
;   - destinations: physical APIC ID 0; logical, flat model (DFR 0xffffffff,
;     LDR bit 0): a matching mask delivers, a non-matching one does not; a
;     physical destination no APIC has (ID 7) delivers nowhere and the run
;     goes on;
;   - vector 5 in an entry: the local APIC refuses it, sets ESR bit 6
;     (received illegal vector; read after a write to ESR) and signals its
;     error LVT.
; Interrupts are waited for with HLT; "not delivered" is observed over a
; busy wait of a fixed number of instructions without exits that outlasts
; the source. One "ok <check>" line per check; status 0 only if all pass.
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

; ---- I/O APIC (82093AA section 3; the registers in xeno_pc.inc) ----
IOAPIC_VERSION   equ 0x00170020
IOAPIC_PINS      equ 24
PIT_PIN          equ 2              ; ISA IRQ0 (the interrupt source override)
RTC_PIN          equ 8              ; ISA IRQ8

; ---- Local APIC (SDM Vol. 3A Table 11-1) ----
SVR_SUPPRESS_EOI_BROADCAST equ 1 << 12
VERSION_EOI_SUPPRESSION    equ 1 << 24
SPURIOUS_VECTOR  equ 0xff
ESR_RECEIVE_ILLEGAL_VECTOR equ 1 << 6
DFR_FLAT         equ 0xffffffff
LDR_BIT0         equ 0x01000000     ; logical APIC ID 0x01 (bits 31:24)

PIT_VECTOR       equ 0x30
RTC_VECTOR       equ 0x38
ERROR_VECTOR     equ 0x3e
ILLEGAL_VECTOR   equ 0x05
NO_SUCH_APIC     equ 7

; ---- PIT, RTC ----
PIT_PERIOD       equ 5966           ; mode 2: 200.0 Hz
PIT_PERIOD_NS    equ PIT_PERIOD * 1000000000 / XENO_PIT_HZ
PIT_EDGES        equ 6              ; the first and the last are 5 periods apart
PIT_ONE_SHOT     equ 2386           ; mode 0: OUT0 rises 2 ms after the count is written
RTC_A_128HZ      equ 0x29           ; divider 010 (32.768 kHz), rate 9: 128 Hz
; Both ends of the PIT measurement are taken in the interrupt handler, so
; their latencies cancel up to the host timer's granularity: JITTER_NS.
JITTER_NS        equ 20000
; Busy wait: SPIN iterations of a two-instruction loop without exits, at
; least 6 ms at 1 ns per instruction (the sim), 60 ms in Bochs: longer than
; the 2 ms PIT one-shots it waits out.
SPIN             equ 3000000

; RTC handler behaviours ([rtc_mode]).
RTC_LEVEL_CHAIN  equ 0              ; EOI without reading C twice, then C + EOI
RTC_DIRECTED     equ 1              ; local EOI only, then C + local + directed EOI

    org 0x8000

start:
    XENO_ENTER_PM32_IDT main, 0x7000
main:
    XENO_USE_APICS SPURIOUS_VECTOR
    mov dword [XENO_LAPIC + XENO_APIC_LVT_ERROR], ERROR_VECTOR

    ; ---- Identification and reset state ----
    mov al, XENO_IOAPIC_REG_VER
    call xeno_ioapic_read
    cmp eax, IOAPIC_VERSION
    CHECK32 "ioapic-version-0x00170020"
    mov al, XENO_IOAPIC_REG_ID
    mov ebx, 0xff000000
    call xeno_ioapic_write
    call xeno_ioapic_read
    cmp eax, 0x0f000000             ; bits 27:24 only
    CHECK32 "ioapic-id-4-bits-writable"
    mov al, XENO_IOAPIC_REG_ARB
    call xeno_ioapic_read
    cmp eax, 0x0f000000             ; "the same data is loaded into both" (3.2.1)
    CHECK32 "arbitration-id-loaded-with-id"
    mov al, XENO_IOAPIC_REG_ID
    xor ebx, ebx
    call xeno_ioapic_write
    call xeno_ioapic_read
    cmp eax, 0
    CHECK32 "ioapic-id-back-to-0"
    mov ecx, IOAPIC_PINS            ; AND of the entries' low dwords
    mov edx, 0xffffffff
    mov al, XENO_IOAPIC_REDIR
.entries:
    push eax
    call xeno_ioapic_read
    and edx, eax
    pop eax
    add al, 2
    loop .entries
    mov eax, edx
    and eax, XENO_RTE_MASKED
    cmp eax, XENO_RTE_MASKED
    CHECK32 "entries-masked-at-reset"

    ; ---- Edge: the PIT at 200 Hz, physical destination APIC 0 ----
    cli
    XENO_IOAPIC_ROUTE PIT_PIN, PIT_VECTOR, 0    ; fixed, physical, edge, active high
    XENO_PIT_START XENO_PIT_CH0_MODE2, PIT_PERIOD
    XENO_HLT_UNTIL pit_count, PIT_EDGES
    call stop_pit
    sti
    call xeno_spin
    cli
    XENO_PM_ELAPSED [pm_last], [pm_first]
    CHECK_IN_RANGE32 XENO_PM_FLOOR((PIT_EDGES - 1) * PIT_PERIOD_NS - JITTER_NS) - 1, XENO_PM_CEIL((PIT_EDGES - 1) * PIT_PERIOD_NS + JITTER_NS) + 1
    CHECK32 "edge-one-interrupt-per-pit-period"
    mov eax, [pit_count]
    cmp eax, PIT_EDGES
    CHECK32 "pit-stopped-no-more-edges"

    ; ---- A masked edge is lost ----
    XENO_IOAPIC_ROUTE PIT_PIN, PIT_VECTOR | XENO_RTE_MASKED, 0
    mov esi, [pit_count]
    call pit_one_shot               ; OUT0 rises 2 ms later, and stays high
    sti
    call xeno_spin
    cli
    XENO_IOAPIC_ROUTE PIT_PIN, PIT_VECTOR, 0    ; unmasked, the line high: no edge
    sti
    nop
    cli
    mov eax, [pit_count]
    sub eax, esi
    CHECK32 "masked-edge-lost"
    mov eax, [XENO_LAPIC + XENO_APIC_IRR + (PIT_VECTOR / 32) * 0x10]
    and eax, 1 << (PIT_VECTOR % 32)
    CHECK32 "masked-edge-not-in-irr"

    ; ---- One edge, one interrupt, however long the line stays high ----
    mov esi, [pit_count]
    call pit_one_shot
    lea eax, [esi + 1]
    XENO_HLT_UNTIL pit_count, eax
    sti
    call xeno_spin
    cli
    mov eax, [pit_count]
    sub eax, esi
    cmp eax, 1
    CHECK32 "edge-held-high-delivers-once"

    ; ---- Logical destinations, flat model ----
    mov dword [XENO_LAPIC + XENO_APIC_DFR], DFR_FLAT
    mov dword [XENO_LAPIC + XENO_APIC_LDR], LDR_BIT0
    XENO_IOAPIC_ROUTE PIT_PIN, PIT_VECTOR | XENO_RTE_LOGICAL, 0x01  ; logical mask: LDR bit 0
    mov esi, [pit_count]
    call pit_one_shot
    lea eax, [esi + 1]
    XENO_HLT_UNTIL pit_count, eax
    mov eax, [pit_count]
    sub eax, esi
    cmp eax, 1
    CHECK32 "logical-flat-match-delivers"
    XENO_IOAPIC_ROUTE PIT_PIN, PIT_VECTOR | XENO_RTE_LOGICAL, 0x02  ; no APIC has logical ID bit 1
    call one_shot_spin
    cmp eax, 0
    CHECK32 "logical-flat-mismatch-not-delivered"

    ; ---- A physical destination no APIC has ----
    XENO_IOAPIC_ROUTE PIT_PIN, PIT_VECTOR, NO_SUCH_APIC
    call one_shot_spin
    cmp eax, 0
    CHECK32 "nonexistent-apic-id-delivers-nowhere"

    ; ---- An illegal vector (< 16) in an entry ----
    mov dword [XENO_LAPIC + XENO_APIC_ESR], 0   ; ESR: a write latches, then read
    mov dword [XENO_LAPIC + XENO_APIC_ESR], 0
    mov eax, [XENO_LAPIC + XENO_APIC_ESR]
    cmp eax, 0
    CHECK32 "esr-clear-before"
    XENO_IOAPIC_ROUTE PIT_PIN, ILLEGAL_VECTOR, 0
    mov esi, [pit_count]
    call pit_one_shot
    XENO_HLT_UNTIL error_count, 1
    mov dword [XENO_LAPIC + XENO_APIC_ESR], 0
    mov eax, [XENO_LAPIC + XENO_APIC_ESR]
    cmp eax, ESR_RECEIVE_ILLEGAL_VECTOR
    CHECK32 "esr-receive-illegal-vector"
    mov eax, [error_count]
    cmp eax, 1
    CHECK32 "error-lvt-interrupt"
    mov eax, [pit_count]
    sub eax, esi
    CHECK32 "illegal-vector-not-delivered"
    XENO_IOAPIC_ROUTE PIT_PIN, XENO_RTE_MASKED, 0
    call stop_pit

    ; ---- Level: the RTC's periodic interrupt, EOI broadcast ----
    mov byte [rtc_mode], RTC_LEVEL_CHAIN
    XENO_IOAPIC_ROUTE RTC_PIN, RTC_VECTOR | XENO_RTE_LEVEL, 0   ; fixed, physical, level, active high
    call rtc_start
    XENO_HLT_UNTIL rtc_count, 3
    sti
    call xeno_spin
    cli
    mov eax, [rtc_first_entry]
    and eax, XENO_RTE_REMOTE_IRR
    cmp eax, XENO_RTE_REMOTE_IRR
    CHECK32 "level-remote-irr-set-in-service"
    mov eax, [rtc_first_tmr]
    and eax, 1 << (RTC_VECTOR % 32)
    cmp eax, 1 << (RTC_VECTOR % 32)
    CHECK32 "level-sets-lapic-tmr"
    mov eax, [rtc_count]
    cmp eax, 3
    CHECK32 "level-redelivered-after-eoi-while-high"
    call rtc_remote_irr
    CHECK32 "eoi-broadcast-clears-remote-irr"

    ; ---- Directed EOI: broadcast suppressed, the I/O APIC's EOI register ----
    mov eax, [XENO_LAPIC + XENO_APIC_VERSION]
    and eax, VERSION_EOI_SUPPRESSION
    cmp eax, VERSION_EOI_SUPPRESSION
    CHECK32 "lapic-eoi-broadcast-suppression-supported"
    mov dword [XENO_LAPIC + XENO_APIC_SVR], XENO_APIC_SVR_ENABLE | SVR_SUPPRESS_EOI_BROADCAST | SPURIOUS_VECTOR
    mov byte [rtc_mode], RTC_DIRECTED
    mov dword [rtc_count], 0
    call rtc_start
    XENO_HLT_UNTIL rtc_count, 1
    sti
    call xeno_spin                  ; the line is high, remote IRR set: nothing
    cli
    mov eax, [rtc_count]
    cmp eax, 1
    CHECK32 "suppressed-broadcast-no-redelivery"
    call rtc_remote_irr
    cmp eax, XENO_RTE_REMOTE_IRR
    CHECK32 "suppressed-broadcast-remote-irr-stays"
    mov dword [XENO_IOAPIC_EOI], RTC_VECTOR ; directed EOI: delivers again
    sti
    nop
    cli
    mov eax, [rtc_count]
    cmp eax, 2
    CHECK32 "directed-eoi-redelivers-while-high"
    call rtc_remote_irr
    CHECK32 "directed-eoi-clears-remote-irr"
    XENO_IOAPIC_ROUTE RTC_PIN, XENO_RTE_MASKED, 0
    mov dword [XENO_LAPIC + XENO_APIC_SVR], XENO_APIC_SVR_ENABLE | SPURIOUS_VECTOR

    CHECK_SUMMARY32 "ioapic: all checks passed"
    XENO_EXIT 0

; ============================================================================
; Helpers
; ============================================================================

; EAX = the remote IRR bit of the RTC's entry (ZF=1 when clear).
rtc_remote_irr:
    mov al, XENO_IOAPIC_REDIR + 2 * RTC_PIN
    call xeno_ioapic_read
    and eax, XENO_RTE_REMOTE_IRR
    ret

; PIT counter 0 in mode 0: OUT0 low at the control word, high PIT_ONE_SHOT
; clocks after the count is written, then high until the next control word.
pit_one_shot:
    XENO_PIT_START XENO_PIT_CH0_MODE0, PIT_ONE_SHOT
    ret

; A mode 0 control word without a count: OUT0 low, nothing counting.
stop_pit:
    mov al, XENO_PIT_CH0_MODE0
    out XENO_PIT_CMD, al
    ret

; A PIT one-shot waited out by a busy wait with IF=1: EAX = the PIT
; interrupts delivered meanwhile.
one_shot_spin:
    push esi
    mov esi, [pit_count]
    call pit_one_shot
    sti
    call xeno_spin
    cli
    mov eax, [pit_count]
    sub eax, esi
    pop esi
    ret

; RTC: 128 Hz periodic interrupt on, register C read first (IRQ8 low).
rtc_start:
    mov al, XENO_RTC_A
    mov ah, RTC_A_128HZ
    call xeno_cmos_write
    mov al, XENO_RTC_C
    call xeno_cmos_read
    mov al, XENO_RTC_B
    mov ah, XENO_RTC_B_PIE
    jmp xeno_cmos_set_bits

; RTC: register C read (IRQ8 falls) and the periodic interrupt off.
rtc_quiet:
    push eax
    mov al, XENO_RTC_C
    call xeno_cmos_read
    mov al, XENO_RTC_B
    mov ah, XENO_RTC_B_PIE
    call xeno_cmos_clear_bits
    pop eax
    ret

; The PIT's edge interrupt: count it, PM timer at the first and the latest.
pit_irq:
    push eax
    call xeno_pm_read
    mov [pm_last], eax
    inc dword [pit_count]
    cmp dword [pit_count], 1
    jne .not_first
    mov [pm_first], eax
.not_first:
    XENO_LAPIC_EOI
    pop eax
    iret

; The RTC's level interrupt, see RTC_LEVEL_CHAIN and RTC_DIRECTED.
rtc_irq:
    push eax
    inc dword [rtc_count]
    cmp byte [rtc_mode], RTC_DIRECTED
    je .directed
    cmp dword [rtc_count], 1
    jne .not_first
    mov al, XENO_IOAPIC_REDIR + 2 * RTC_PIN  ; in service: remote IRR set
    call xeno_ioapic_read
    mov [rtc_first_entry], eax
    mov eax, [XENO_LAPIC + XENO_APIC_TMR + (RTC_VECTOR / 32) * 0x10]
    mov [rtc_first_tmr], eax
.not_first:
    cmp dword [rtc_count], 3
    jb .eoi                         ; the line stays high: delivered again
    call rtc_quiet                  ; the third: line low first
.eoi:
    XENO_LAPIC_EOI                  ; broadcast to the I/O APIC
    pop eax
    iret
.directed:
    cmp dword [rtc_count], 1
    je .local_eoi                   ; the first: local EOI only
    call rtc_quiet
    XENO_LAPIC_EOI
    mov dword [XENO_IOAPIC_EOI], RTC_VECTOR
    pop eax
    iret
.local_eoi:
    XENO_LAPIC_EOI                  ; not broadcast: remote IRR stays set
    pop eax
    iret

; The local APIC's error interrupt.
error_irq:
    inc dword [error_count]
    XENO_LAPIC_EOI
    iret

    XENO_IRQ_ROUTINES SPIN
    XENO_FLAT_GDT

    align 4
pit_count:       dd 0
rtc_count:       dd 0
error_count:     dd 0
pm_first:        dd 0
pm_last:         dd 0
rtc_first_entry: dd 0
rtc_first_tmr:   dd 0
rtc_mode:        db 0
    XENO_IDT32 0x100, xeno_exception, xeno_unexpected_irq, PIT_VECTOR, pit_irq, RTC_VECTOR, rtc_irq, ERROR_VECTOR, error_irq
