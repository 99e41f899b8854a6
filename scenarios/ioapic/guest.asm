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
%include "xeno.inc"
%include "xeno_check.inc"

; ---- I/O APIC (82093AA section 3) ----
IOAPIC_SEL       equ 0xfec00000     ; IOREGSEL
IOAPIC_WIN       equ 0xfec00010     ; IOWIN
IOAPIC_EOI       equ 0xfec00040     ; directed EOI: write the vector
IOAPIC_REG_ID    equ 0x00
IOAPIC_REG_VER   equ 0x01
IOAPIC_REG_ARB   equ 0x02
IOAPIC_REDIR     equ 0x10           ; entry n: 0x10 + 2n (low), 0x11 + 2n (high)
IOAPIC_VERSION   equ 0x00170020
IOAPIC_PINS      equ 24
RTE_LOGICAL      equ 1 << 11
RTE_REMOTE_IRR   equ 1 << 14
RTE_LEVEL        equ 1 << 15
RTE_MASKED       equ 1 << 16
PIT_PIN          equ 2              ; ISA IRQ0 (the interrupt source override)
RTC_PIN          equ 8              ; ISA IRQ8

; ---- Local APIC (SDM Vol. 3A Table 11-1) ----
LAPIC            equ 0xfee00000
APIC_VERSION     equ LAPIC + 0x030
APIC_EOI         equ LAPIC + 0x0b0
APIC_LDR         equ LAPIC + 0x0d0
APIC_DFR         equ LAPIC + 0x0e0
APIC_SVR         equ LAPIC + 0x0f0
APIC_TMR         equ LAPIC + 0x180
APIC_IRR         equ LAPIC + 0x200
APIC_ESR         equ LAPIC + 0x280
APIC_LVT_ERROR   equ LAPIC + 0x370
SVR_ENABLE       equ 1 << 8
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

; ---- PIT, RTC, PM timer ----
PIT_CH0          equ 0x40
PIT_CMD          equ 0x43
PIT_MODE0        equ 0x30           ; counter 0, lobyte/hibyte, mode 0, binary
PIT_MODE2        equ 0x34           ; counter 0, lobyte/hibyte, mode 2, binary
PIT_HZ           equ 1193182
PIT_PERIOD       equ 5966           ; mode 2: 200.0 Hz
PIT_PERIOD_NS    equ PIT_PERIOD * 1000000000 / PIT_HZ
PIT_EDGES        equ 6              ; the first and the last are 5 periods apart
PIT_ONE_SHOT     equ 2386           ; mode 0: OUT0 rises 2 ms after the count is written
RTC_INDEX        equ 0x70
RTC_DATA         equ 0x71
RTC_REG_A        equ 0x0a
RTC_REG_B        equ 0x0b
RTC_REG_C        equ 0x0c
RTC_A_128HZ      equ 0x29           ; divider 010 (32.768 kHz), rate 9: 128 Hz
RTC_B_PIE        equ 0x40
PM_TMR           equ 0x608
PM_HZ            equ 3579545
PM_MASK          equ 0xffffff
%define PM_FLOOR(ns) ((ns) * PM_HZ / 1000000000)
%define PM_CEIL(ns)  (((ns) * PM_HZ + 999999999) / 1000000000)
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
    XENO_ENTER_PM32 main, 0x7000

    bits 32
main:
    call setup_idt
    lidt [idt_desc]
    mov al, 0xff                    ; both 8259As fully masked
    out 0x21, al
    out 0xa1, al
    mov dword [APIC_SVR], SVR_ENABLE | SPURIOUS_VECTOR
    mov dword [APIC_LVT_ERROR], ERROR_VECTOR

    ; ---- Identification and reset state ----
    mov al, IOAPIC_REG_VER
    call ioapic_read
    cmp eax, IOAPIC_VERSION
    CHECK32 "ioapic-version-0x00170020"
    mov al, IOAPIC_REG_ID
    mov ebx, 0xff000000
    call ioapic_write
    call ioapic_read
    cmp eax, 0x0f000000             ; bits 27:24 only
    CHECK32 "ioapic-id-4-bits-writable"
    mov al, IOAPIC_REG_ARB
    call ioapic_read
    cmp eax, 0x0f000000             ; "the same data is loaded into both" (3.2.1)
    CHECK32 "arbitration-id-loaded-with-id"
    mov al, IOAPIC_REG_ID
    xor ebx, ebx
    call ioapic_write
    call ioapic_read
    cmp eax, 0
    CHECK32 "ioapic-id-back-to-0"
    mov ecx, IOAPIC_PINS            ; AND of the entries' low dwords
    mov edx, 0xffffffff
    mov al, IOAPIC_REDIR
.entries:
    push eax
    call ioapic_read
    and edx, eax
    pop eax
    add al, 2
    loop .entries
    mov eax, edx
    and eax, RTE_MASKED
    cmp eax, RTE_MASKED
    CHECK32 "entries-masked-at-reset"

    ; ---- Edge: the PIT at 200 Hz, physical destination APIC 0 ----
    cli
    mov eax, PIT_PIN
    mov ebx, PIT_VECTOR             ; fixed, physical, edge, active high
    xor edx, edx                    ; destination APIC ID 0
    call set_entry
    mov al, PIT_MODE2
    out PIT_CMD, al
    mov al, PIT_PERIOD & 0xff
    out PIT_CH0, al
    mov al, PIT_PERIOD >> 8
    out PIT_CH0, al
    mov eax, PIT_EDGES
    call wait_pit
    call stop_pit
    sti
    call spin
    cli
    mov eax, [pm_last]
    sub eax, [pm_first]
    and eax, PM_MASK
    mov ebx, PM_FLOOR((PIT_EDGES - 1) * PIT_PERIOD_NS - JITTER_NS) - 1
    mov edx, PM_CEIL((PIT_EDGES - 1) * PIT_PERIOD_NS + JITTER_NS) + 1
    call in_range
    CHECK32 "edge-one-interrupt-per-pit-period"
    mov eax, [pit_count]
    cmp eax, PIT_EDGES
    CHECK32 "pit-stopped-no-more-edges"

    ; ---- A masked edge is lost ----
    mov eax, PIT_PIN
    mov ebx, PIT_VECTOR | RTE_MASKED
    xor edx, edx
    call set_entry
    mov esi, [pit_count]
    call pit_one_shot               ; OUT0 rises 2 ms later, and stays high
    sti
    call spin
    cli
    mov eax, PIT_PIN
    mov ebx, PIT_VECTOR             ; unmasked, the line high: no edge
    xor edx, edx
    call set_entry
    sti
    nop
    cli
    mov eax, [pit_count]
    sub eax, esi
    CHECK32 "masked-edge-lost"
    mov eax, [APIC_IRR + (PIT_VECTOR / 32) * 0x10]
    and eax, 1 << (PIT_VECTOR % 32)
    CHECK32 "masked-edge-not-in-irr"

    ; ---- One edge, one interrupt, however long the line stays high ----
    mov esi, [pit_count]
    call pit_one_shot
    lea eax, [esi + 1]
    call wait_pit
    sti
    call spin
    cli
    mov eax, [pit_count]
    sub eax, esi
    cmp eax, 1
    CHECK32 "edge-held-high-delivers-once"

    ; ---- Logical destinations, flat model ----
    mov dword [APIC_DFR], DFR_FLAT
    mov dword [APIC_LDR], LDR_BIT0
    mov eax, PIT_PIN
    mov ebx, PIT_VECTOR | RTE_LOGICAL
    mov edx, 0x01                   ; logical mask: LDR bit 0
    call set_entry
    mov esi, [pit_count]
    call pit_one_shot
    lea eax, [esi + 1]
    call wait_pit
    mov eax, [pit_count]
    sub eax, esi
    cmp eax, 1
    CHECK32 "logical-flat-match-delivers"
    mov eax, PIT_PIN
    mov ebx, PIT_VECTOR | RTE_LOGICAL
    mov edx, 0x02                   ; no APIC has logical ID bit 1
    call set_entry
    mov esi, [pit_count]
    call pit_one_shot
    sti
    call spin
    cli
    mov eax, [pit_count]
    sub eax, esi
    CHECK32 "logical-flat-mismatch-not-delivered"

    ; ---- A physical destination no APIC has ----
    mov eax, PIT_PIN
    mov ebx, PIT_VECTOR
    mov edx, NO_SUCH_APIC
    call set_entry
    mov esi, [pit_count]
    call pit_one_shot
    sti
    call spin
    cli
    mov eax, [pit_count]
    sub eax, esi
    CHECK32 "nonexistent-apic-id-delivers-nowhere"

    ; ---- An illegal vector (< 16) in an entry ----
    mov dword [APIC_ESR], 0         ; ESR: a write latches, then read
    mov dword [APIC_ESR], 0
    mov eax, [APIC_ESR]
    cmp eax, 0
    CHECK32 "esr-clear-before"
    mov eax, PIT_PIN
    mov ebx, ILLEGAL_VECTOR
    xor edx, edx
    call set_entry
    mov esi, [pit_count]
    call pit_one_shot
.wait_error:
    cmp dword [error_count], 0
    jne .error_seen
    sti
    hlt
    cli
    jmp .wait_error
.error_seen:
    mov dword [APIC_ESR], 0
    mov eax, [APIC_ESR]
    cmp eax, ESR_RECEIVE_ILLEGAL_VECTOR
    CHECK32 "esr-receive-illegal-vector"
    mov eax, [error_count]
    cmp eax, 1
    CHECK32 "error-lvt-interrupt"
    mov eax, [pit_count]
    sub eax, esi
    CHECK32 "illegal-vector-not-delivered"
    mov eax, PIT_PIN
    mov ebx, RTE_MASKED
    xor edx, edx
    call set_entry
    call stop_pit

    ; ---- Level: the RTC's periodic interrupt, EOI broadcast ----
    mov byte [rtc_mode], RTC_LEVEL_CHAIN
    mov eax, RTC_PIN
    mov ebx, RTC_VECTOR | RTE_LEVEL ; fixed, physical, level, active high
    xor edx, edx
    call set_entry
    call rtc_start
    mov eax, 3
    call wait_rtc
    sti
    call spin
    cli
    mov eax, [rtc_first_entry]
    and eax, RTE_REMOTE_IRR
    cmp eax, RTE_REMOTE_IRR
    CHECK32 "level-remote-irr-set-in-service"
    mov eax, [rtc_first_tmr]
    and eax, 1 << (RTC_VECTOR % 32)
    cmp eax, 1 << (RTC_VECTOR % 32)
    CHECK32 "level-sets-lapic-tmr"
    mov eax, [rtc_count]
    cmp eax, 3
    CHECK32 "level-redelivered-after-eoi-while-high"
    mov al, IOAPIC_REDIR + 2 * RTC_PIN
    call ioapic_read
    and eax, RTE_REMOTE_IRR
    CHECK32 "eoi-broadcast-clears-remote-irr"

    ; ---- Directed EOI: broadcast suppressed, the I/O APIC's EOI register ----
    mov eax, [APIC_VERSION]
    and eax, VERSION_EOI_SUPPRESSION
    cmp eax, VERSION_EOI_SUPPRESSION
    CHECK32 "lapic-eoi-broadcast-suppression-supported"
    mov dword [APIC_SVR], SVR_ENABLE | SVR_SUPPRESS_EOI_BROADCAST | SPURIOUS_VECTOR
    mov byte [rtc_mode], RTC_DIRECTED
    mov dword [rtc_count], 0
    call rtc_start
    mov eax, 1
    call wait_rtc
    sti
    call spin                       ; the line is high, remote IRR set: nothing
    cli
    mov eax, [rtc_count]
    cmp eax, 1
    CHECK32 "suppressed-broadcast-no-redelivery"
    mov al, IOAPIC_REDIR + 2 * RTC_PIN
    call ioapic_read
    and eax, RTE_REMOTE_IRR
    cmp eax, RTE_REMOTE_IRR
    CHECK32 "suppressed-broadcast-remote-irr-stays"
    mov dword [IOAPIC_EOI], RTC_VECTOR  ; directed EOI: delivers again
    sti
    nop
    cli
    mov eax, [rtc_count]
    cmp eax, 2
    CHECK32 "directed-eoi-redelivers-while-high"
    mov al, IOAPIC_REDIR + 2 * RTC_PIN
    call ioapic_read
    and eax, RTE_REMOTE_IRR
    CHECK32 "directed-eoi-clears-remote-irr"
    mov eax, RTC_PIN
    mov ebx, RTE_MASKED
    xor edx, edx
    call set_entry
    mov dword [APIC_SVR], SVR_ENABLE | SPURIOUS_VECTOR

    cmp dword [failures], 0
    jne .failed
    mov esi, msg_all
    call xeno_puts32
    XENO_EXIT 0
.failed:
    XENO_EXIT 1

; ============================================================================
; Helpers
; ============================================================================

; ioapic_read: AL = register index -> EAX. ioapic_write: AL = index, EBX =
; value. Other registers preserved.
ioapic_read:
    movzx eax, al
    mov [IOAPIC_SEL], eax
    mov eax, [IOAPIC_WIN]
    ret

ioapic_write:
    push eax
    movzx eax, al
    mov [IOAPIC_SEL], eax
    mov [IOAPIC_WIN], ebx
    pop eax
    ret

; set_entry: EAX = pin, EBX = low dword, EDX = destination (bits 63:56).
; The high half first, so the entry never points anywhere stale unmasked.
set_entry:
    push eax
    push ebx
    lea eax, [IOAPIC_REDIR + 2 * eax + 1]
    shl edx, 24
    xchg ebx, edx
    call ioapic_write
    xchg ebx, edx
    shr edx, 24
    dec eax
    call ioapic_write
    pop ebx
    pop eax
    ret

; PIT counter 0 in mode 0: OUT0 low at the control word, high PIT_ONE_SHOT
; clocks after the count is written, then high until the next control word.
pit_one_shot:
    call stop_pit
    mov al, PIT_ONE_SHOT & 0xff
    out PIT_CH0, al
    mov al, PIT_ONE_SHOT >> 8
    out PIT_CH0, al
    ret

; A mode 0 control word without a count: OUT0 low, nothing counting.
stop_pit:
    mov al, PIT_MODE0
    out PIT_CMD, al
    ret

; RTC: 128 Hz periodic interrupt on, register C read first (IRQ8 low).
rtc_start:
    mov al, RTC_REG_A
    out RTC_INDEX, al
    mov al, RTC_A_128HZ
    out RTC_DATA, al
    mov al, RTC_REG_C
    out RTC_INDEX, al
    in al, RTC_DATA
    mov al, RTC_REG_B
    out RTC_INDEX, al
    in al, RTC_DATA
    or al, RTC_B_PIE
    mov ah, al
    mov al, RTC_REG_B
    out RTC_INDEX, al
    mov al, ah
    out RTC_DATA, al
    ret

; RTC: register C read (IRQ8 falls) and the periodic interrupt off.
rtc_quiet:
    push eax
    mov al, RTC_REG_C
    out RTC_INDEX, al
    in al, RTC_DATA
    mov al, RTC_REG_B
    out RTC_INDEX, al
    in al, RTC_DATA
    and al, ~RTC_B_PIE
    mov ah, al
    mov al, RTC_REG_B
    out RTC_INDEX, al
    mov al, ah
    out RTC_DATA, al
    pop eax
    ret

; wait_pit / wait_rtc: HLT until the count reaches EAX. Entered and left with
; IF=0; STI's shadow covers HLT, so a pending interrupt is taken after it.
wait_pit:
    cmp [pit_count], eax
    jae .done
    sti
    hlt
    cli
    jmp wait_pit
.done:
    ret

wait_rtc:
    cmp [rtc_count], eax
    jae .done
    sti
    hlt
    cli
    jmp wait_rtc
.done:
    ret

; A fixed number of instructions without exits.
spin:
    push ecx
    mov ecx, SPIN
.loop:
    dec ecx
    jnz .loop
    pop ecx
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

; IDT: exceptions -> exception; PIT_VECTOR, RTC_VECTOR, ERROR_VECTOR to
; their handlers; everything else -> unexpected.
setup_idt:
    xor ecx, ecx
.gate:
    mov eax, exception
    cmp ecx, 0x20
    jb .set
    mov eax, unexpected_irq
    cmp ecx, PIT_VECTOR
    jne .not_pit
    mov eax, pit_irq
.not_pit:
    cmp ecx, RTC_VECTOR
    jne .not_rtc
    mov eax, rtc_irq
.not_rtc:
    cmp ecx, ERROR_VECTOR
    jne .set
    mov eax, error_irq
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

; The PIT's edge interrupt: count it, PM timer at the first and the latest.
pit_irq:
    push eax
    push edx
    mov dx, PM_TMR
    in eax, dx
    mov [pm_last], eax
    inc dword [pit_count]
    cmp dword [pit_count], 1
    jne .not_first
    mov [pm_first], eax
.not_first:
    mov dword [APIC_EOI], 0
    pop edx
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
    mov al, IOAPIC_REDIR + 2 * RTC_PIN  ; in service: remote IRR set
    call ioapic_read
    mov [rtc_first_entry], eax
    mov eax, [APIC_TMR + (RTC_VECTOR / 32) * 0x10]
    mov [rtc_first_tmr], eax
.not_first:
    cmp dword [rtc_count], 3
    jb .eoi                         ; the line stays high: delivered again
    call rtc_quiet                  ; the third: line low first
.eoi:
    mov dword [APIC_EOI], 0         ; broadcast to the I/O APIC
    pop eax
    iret
.directed:
    cmp dword [rtc_count], 1
    je .local_eoi                   ; the first: local EOI only
    call rtc_quiet
    mov dword [APIC_EOI], 0
    mov dword [IOAPIC_EOI], RTC_VECTOR
    pop eax
    iret
.local_eoi:
    mov dword [APIC_EOI], 0         ; not broadcast: remote IRR stays set
    pop eax
    iret

; The local APIC's error interrupt.
error_irq:
    inc dword [error_count]
    mov dword [APIC_EOI], 0
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

msg_all:        db "ioapic: all checks passed", 10, 0
msg_unexpected: db "FAIL unexpected interrupt", 10, 0
msg_exception:  db "FAIL exception", 10, 0
    align 4
pit_count:       dd 0
rtc_count:       dd 0
error_count:     dd 0
pm_first:        dd 0
pm_last:         dd 0
rtc_first_entry: dd 0
rtc_first_tmr:   dd 0
rtc_mode:        db 0
    align 8
IDT_ENTRIES equ 0x100
idt: times IDT_ENTRIES * 8 db 0
idt_desc:
    dw IDT_ENTRIES * 8 - 1
    dd idt
