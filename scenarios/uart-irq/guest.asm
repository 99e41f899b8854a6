; uart-irq: the 16550 UART (COM1, IRQ4) driven by interrupts through the
; 8259A, as a serial driver does, in 32-bit protected mode with an IDT:
;   - THR empty interrupt (IER bit 1): raised when enabled with THR empty,
;     IIR reads 0x02, and reading IIR clears it; gated by MCR.OUT2 (no IRQ4
;     without it: the PIC's IRR stays clear);
;   - received data available (IER bit 0) in 16450 mode (IIR 0x04, gated by
;     OUT2 too), then with the FIFO at trigger level 1 (FCR 0x07, IIR 0xC4,
;     one byte per interrupt) and at trigger level 4 (FCR 0x41, four bytes
;     per interrupt), and the character timeout (IIR 0xCC) that reports the
;     bytes left in the FIFO below the trigger level when the line goes idle;
;   - an echo: every line received (from the file input.txt, fed to the
;     receiver at 1200 baud) is sent back uppercased, one byte per THR-empty
;     interrupt, so the console is exactly input.txt in capitals followed by
;     the check lines.
;
; Timing rules (the exit trace must not depend on how fast the machine runs):
;   - IF is 0 except in `sti; hlt; cli` (wait for an event that comes later)
;     and `sti; nop; cli` (take an interrupt that is already pending), so
;     handlers run only there;
;   - at 1200 baud a byte takes 8.33 ms, far longer than the handler and an
;     echo of a line (a few hundred exits at most, tens of microseconds each
;     in Bochs), so no byte arrives while the guest works;
;   - the input starts at boot at the reset divisor (9600 baud); in 16450
;     mode the receiver holds one byte and the sender waits for room, so
;     after a 55 ms PIT one-shot the first byte is in RBR whatever the boot
;     took, and the paced input starts when the guest reads it;
;   - the end of the input is two PIT one-shots (2 x 55 ms, 13 character
;     times) without a received byte: every receive interrupt restarts the
;     one-shot, so it never expires while bytes flow (at most 4 character
;     times, 33 ms, apart); the character timeout (4 character times after
;     the last byte, with 1-3 bytes left at trigger level 4) comes between.
; Results are printed at the end (polled output, IER 0). One "ok <check>"
; line per check; status 0 only if all pass. Without input (--serial-in
; /dev/null) the guest says so and exits with status 1.
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

COM1        equ 0x3f8
UART_RBR    equ COM1 + 0       ; read (DLAB 0)
UART_THR    equ COM1 + 0       ; write (DLAB 0)
UART_DLL    equ COM1 + 0       ; DLAB 1
UART_IER    equ COM1 + 1
UART_DLM    equ COM1 + 1       ; DLAB 1
UART_IIR    equ COM1 + 2       ; read
UART_FCR    equ COM1 + 2       ; write
UART_LCR    equ COM1 + 3
UART_MCR    equ COM1 + 4
UART_LSR    equ COM1 + 5

IER_RDA     equ 0x01
IER_THRE    equ 0x02
LCR_8N1     equ 0x03
LCR_DLAB    equ 0x80
MCR_DTR_RTS equ 0x03
MCR_OUT2    equ 0x08
LSR_DR      equ 0x01
FCR_TRIG1   equ 0x07           ; FIFO on, both FIFOs cleared, trigger level 1
FCR_TRIG4   equ 0x41           ; FIFO on, trigger level 4 (nothing cleared)
IIR_NONE    equ 0x01
IIR_THRE    equ 0x02
IIR_RDA     equ 0x04
IIR_TIMEOUT equ 0x0c
IIR_FIFO    equ 0xc0           ; bits 7:6 in FIFO mode

DIVISOR     equ 96             ; 115200 / 96 = 1200 baud: 8N1 is 8.33 ms a byte
TRIG1_LINES equ 2              ; lines received at trigger level 1, then level 4
RX_MAX      equ 1024
TX_MAX      equ 128

IRQ0_VEC    equ XENO_PIC1_VECTOR + 0
IRQ4_VEC    equ XENO_PIC1_VECTOR + 4

    org 0x8000

start:
    XENO_ENTER_PM32_IDT main, 0x7000
main:
    XENO_PIC_INIT 0xee, 0xff           ; IRQ0 (PIT) and IRQ4 (COM1)

    ; The line: 1200 baud 8N1, no interrupts, OUT2 off, 16450 mode (reset).
    mov dx, UART_LCR
    mov al, LCR_DLAB
    out dx, al
    mov dx, UART_DLL
    mov al, DIVISOR & 0xff
    out dx, al
    mov dx, UART_DLM
    mov al, DIVISOR >> 8
    out dx, al
    mov dx, UART_LCR
    mov al, LCR_8N1
    out dx, al
    mov dx, UART_IER
    xor al, al
    out dx, al
    mov dx, UART_MCR
    mov al, MCR_DTR_RTS
    out dx, al

    ; ---- THR empty, gated by OUT2 ----
    mov dx, UART_IER
    mov al, IER_THRE                   ; THR is empty: THRE pending at once
    out dx, al
    sti
    nop                                ; an IRQ4 would be taken here
    cli
    mov eax, [thre_irqs]
    mov [thre_irqs_gated], eax
    call xeno_pic_irr
    mov [irr_thre_gated], eax
    mov dx, UART_MCR
    mov al, MCR_DTR_RTS | MCR_OUT2     ; OUT2: the pending THRE reaches IRQ4
    out dx, al
    mov byte [tx_buf], 0               ; nothing to send: the handler only reads IIR
    mov dword [tx_ptr], tx_buf
    sti
    nop
    cli
    mov eax, [thre_irqs]
    mov [thre_irqs_out2], eax
    movzx eax, byte [iir_log]
    mov [iir_first_thre], eax
    mov dx, UART_IIR                   ; the handler's IIR read cleared THRE (IER unchanged)
    in al, dx
    movzx eax, al
    mov [iir_after_thre], eax
    sti
    nop                                ; no second interrupt
    cli
    mov eax, [thre_irqs]
    mov [thre_irqs_after_read], eax
    mov dx, UART_IER
    xor al, al
    out dx, al
    mov dword [iir_count], 0
    mov byte [thre_off_when_done], 1   ; from now on the echo turns THRE off when done

    ; ---- wait for the first byte: a 55 ms PIT one-shot ----
    call pit_one_shot_wait
    mov dx, UART_LSR
    in al, dx
    test al, LSR_DR
    jz no_input

    ; ---- received data available, 16450 mode, gated by OUT2 ----
    mov dx, UART_MCR
    mov al, MCR_DTR_RTS
    out dx, al
    mov dx, UART_IER
    mov al, IER_RDA
    out dx, al
    mov dx, UART_IIR                   ; pending (not cleared by this read)
    in al, dx
    movzx eax, al
    mov [iir_rda_gated], eax
    sti
    nop
    cli
    mov eax, [rda_irqs]
    mov [rda_irqs_gated], eax
    call xeno_pic_irr
    mov [irr_rda_gated], eax
    mov dx, UART_MCR
    mov al, MCR_DTR_RTS | MCR_OUT2
    out dx, al
    sti
    nop                                ; RDA: the handler reads the byte
    cli
    mov eax, [rda_irqs]
    mov [rda_irqs_out2], eax
    movzx eax, byte [iir_log]
    mov [iir_first_rda], eax
    mov eax, [rx_len]
    mov [rx_len_first], eax
    ; The sender starts the next byte now that RBR was read: 8.33 ms.
    mov dx, UART_FCR
    mov al, FCR_TRIG1
    out dx, al
    mov dx, UART_IIR
    in al, dx
    movzx eax, al
    mov [iir_fifo_idle], eax
    mov byte [phase], 1
    mov byte [idle_watch], 1           ; PIT expiries now count idle time

    ; ---- receive and echo lines until the line stays idle ----
.receive:
    call echo_complete_lines
    cmp byte [input_idle], 0
    jne .input_done
    sti
    hlt                                ; the next RDA (or the timeout)
    cli
    jmp .receive
.input_done:
    call echo_rest
    mov dx, UART_IIR
    in al, dx
    movzx eax, al
    mov [iir_after_timeout], eax
    mov dx, UART_LSR
    in al, dx
    movzx eax, al
    mov [lsr_at_end], eax

    ; ---- results (polled output: interrupts off at the UART) ----
    mov dx, UART_IER
    xor al, al
    out dx, al
    call report_thre
    call report_rx

    CHECK_SUMMARY32 "uart-irq: all checks passed"
    XENO_EXIT 0

no_input:
    mov dx, UART_IER
    xor al, al
    out dx, al
    call report_thre
    mov esi, msg_no_input
    call xeno_puts32
    XENO_EXIT 1

report_thre:
    mov eax, [thre_irqs_gated]
    cmp eax, 0
    CHECK32 "thre-no-irq-without-out2"
    mov eax, [irr_thre_gated]
    and eax, 1 << 4
    CHECK32 "thre-irr4-clear-without-out2"
    mov eax, [thre_irqs_out2]
    cmp eax, 1
    CHECK32 "thre-irq-with-out2"
    mov eax, [iir_first_thre]
    cmp eax, IIR_THRE
    CHECK32 "thre-iir-0x02"
    mov eax, [iir_after_thre]
    cmp eax, IIR_NONE
    CHECK32 "thre-cleared-by-iir-read"
    mov eax, [thre_irqs_after_read]
    cmp eax, 1
    CHECK32 "thre-no-second-irq"
    ret

report_rx:
    mov eax, [iir_rda_gated]
    cmp eax, IIR_RDA
    CHECK32 "rda-iir-0x04-without-out2"
    mov eax, [rda_irqs_gated]
    cmp eax, 0
    CHECK32 "rda-no-irq-without-out2"
    mov eax, [irr_rda_gated]
    and eax, 1 << 4
    CHECK32 "rda-irr4-clear-without-out2"
    mov eax, [rda_irqs_out2]
    cmp eax, 1
    CHECK32 "rda-irq-with-out2"
    mov eax, [iir_first_rda]
    cmp eax, IIR_RDA
    CHECK32 "rda-16450-iir-0x04"
    mov eax, [rx_len_first]
    cmp eax, 1
    CHECK32 "rda-16450-one-byte"
    mov eax, [iir_fifo_idle]
    cmp eax, IIR_FIFO | IIR_NONE
    CHECK32 "fifo-on-iir-0xc1"
    ; trigger level 1: every interrupt said RDA and found exactly one byte
    mov eax, [trig1_bad]
    cmp eax, 0
    CHECK32 "trigger1-iir-0xc4-one-byte-each"
    mov eax, [trig1_irqs]
    call nonzero
    CHECK32 "trigger1-used"
    ; trigger level 4: every RDA interrupt found exactly four bytes
    mov eax, [trig4_bad]
    cmp eax, 0
    CHECK32 "trigger4-iir-0xc4-four-bytes-each"
    mov eax, [trig4_irqs]
    call nonzero
    CHECK32 "trigger4-used"
    ; the character timeout: once, at the end, with 1-3 bytes below the level
    mov eax, [timeout_irqs]
    cmp eax, 1
    CHECK32 "timeout-iir-0xcc-once"
    mov eax, [timeout_bytes]
    CHECK_IN_RANGE32 1, 3
    CHECK32 "timeout-reports-partial-fifo"
    mov eax, [iir_after_timeout]
    cmp eax, IIR_FIFO | IIR_NONE
    CHECK32 "timeout-cleared-by-rbr-read"
    mov eax, [unknown_iir]
    cmp eax, 0
    CHECK32 "no-other-interrupt-source"
    ; the echo: one THR-empty interrupt per byte sent and one that ends a line
    mov eax, [tx_bytes]
    add eax, [tx_lines]
    cmp eax, [thre_irqs_echo]
    CHECK32 "echo-thre-irq-per-byte"
    mov eax, [thre_bad]
    cmp eax, 0
    CHECK32 "echo-thre-iir-0xc2"
    mov eax, [tx_stalled]
    cmp eax, 0
    CHECK32 "echo-completes-in-interrupts"
    mov eax, [rx_overflow]
    cmp eax, 0
    CHECK32 "rx-buffer-large-enough"
    mov eax, [lsr_at_end]
    and eax, LSR_DR
    CHECK32 "input-exhausted-lsr-dr-0"
    ret

; ZF=1 when EAX is not zero (for CHECK32); EAX kept.
nonzero:
    push ecx
    test eax, eax
    setz cl
    cmp cl, 0
    pop ecx
    ret

; Echo every complete line received (up to and including '\n') that has not
; been echoed yet; a line that fills the transmit buffer goes out in pieces.
; After line TRIG1_LINES, the FIFO goes to trigger level 4.
echo_complete_lines:
    mov esi, [line_start]
.scan:
    cmp esi, [rx_len]
    jae .done
    cmp byte [rx_buf + esi], 10
    je .line
    mov eax, esi
    sub eax, [line_start]
    cmp eax, TX_MAX - 2
    jae .line
    inc esi
    jmp .scan
.line:
    inc esi                            ; one past the line's last byte
    mov eax, [line_start]
    mov ecx, esi
    call send_upper
    mov [line_start], esi
    inc dword [lines_echoed]
    cmp dword [lines_echoed], TRIG1_LINES
    jne .scan
    mov dx, UART_FCR
    mov al, FCR_TRIG4
    out dx, al
    mov byte [phase], 4
    jmp .scan
.done:
    ret

; Echo what is left after the last complete line (input without a final '\n').
echo_rest:
    mov eax, [line_start]
    mov ecx, [rx_len]
    cmp eax, ecx
    je .done
    call send_upper
    mov [line_start], ecx
.done:
    ret

; Send rx_buf[eax .. ecx) uppercased through THR-empty interrupts: enabling
; IER bit 1 with THR empty raises the first one, each THR write the next;
; the handler turns IER bit 1 off when the buffer is done.
send_upper:
    push esi
    push edi
    mov esi, eax
    mov edi, tx_buf
.copy:
    cmp esi, ecx
    jae .copied
    mov al, [rx_buf + esi]
    cmp al, 'a'
    jb .store
    cmp al, 'z'
    ja .store
    sub al, 'a' - 'A'
.store:
    mov [edi], al
    inc edi
    inc esi
    jmp .copy
.copied:
    mov byte [edi], 0
    sub edi, tx_buf
    add [tx_bytes], edi
    inc dword [tx_lines]
    mov dword [tx_ptr], tx_buf
    mov byte [tx_busy], 1
    mov eax, [thre_irqs]
    mov [thre_before], eax
    mov dx, UART_IER
    mov al, IER_RDA | IER_THRE
    out dx, al
    sti
    nop                                ; the whole line goes out here
    cli
    cmp byte [tx_busy], 0
    je .sent
    inc dword [tx_stalled]
.sent:
    mov eax, [thre_irqs]
    sub eax, [thre_before]
    add [thre_irqs_echo], eax
    pop edi
    pop esi
    ret

; PIT counter 0 in mode 0 (interrupt on terminal count) with 65535: IRQ0
; once, 55 ms from now (the control word stops a count in progress and
; drops OUT0). Keeps EAX.
pit_arm_one_shot:
    push eax
    XENO_PIT_START XENO_PIT_CH0_MODE0, 0xffff
    pop eax
    ret

; The one-shot, waited for with HLT.
pit_one_shot_wait:
    call pit_arm_one_shot
    XENO_HLT_NEXT pit_irqs
    ret

; PIT: while the guest receives, each expiry is 55 ms without a received
; byte; the one-shot is restarted until IDLE_LIMIT of them in a row.
irq0:
    push eax
    inc dword [pit_irqs]
    cmp byte [idle_watch], 0
    je .eoi
    inc dword [idle_periods]
    cmp dword [idle_periods], IDLE_LIMIT
    jb .again
    mov byte [input_idle], 1
    mov byte [idle_watch], 0
    jmp .eoi
.again:
    call pit_arm_one_shot
.eoi:
    XENO_PIC_EOI
    pop eax
    iret

; COM1: one source per interrupt, the one IIR names. Each is cleared here
; (THRE by the IIR read, RDA and timeout by reading the FIFO empty), so the
; line drops; the next source raises it again: a new edge for the 8259A.
irq4:
    pushad
    mov dx, UART_IIR
    in al, dx
    movzx eax, al
    mov ecx, [iir_count]
    cmp ecx, IIR_LOG
    jae .logged
    mov [iir_log + ecx], al
    inc dword [iir_count]
.logged:
    mov ebx, eax
    and ebx, 0x0f
    cmp ebx, IIR_THRE
    je .thre
    cmp ebx, IIR_RDA
    je .rda
    cmp ebx, IIR_TIMEOUT
    je .timeout
    inc dword [unknown_iir]
    jmp .eoi

.thre:
    inc dword [thre_irqs]
    cmp byte [phase], 0
    je .thre_iir_ok                    ; 16450 mode: checked by main
    cmp al, IIR_FIFO | IIR_THRE
    je .thre_iir_ok
    inc dword [thre_bad]
.thre_iir_ok:
    mov esi, [tx_ptr]
    mov al, [esi]
    test al, al
    jz .thre_done
    inc dword [tx_ptr]
    mov dx, UART_THR                   ; THRE clears and is set again: the next IRQ4
    out dx, al
    jmp .eoi
.thre_done:
    cmp byte [thre_off_when_done], 0
    je .eoi
    mov dx, UART_IER                   ; the buffer is sent: THR-empty interrupts off
    mov al, IER_RDA
    out dx, al
    mov byte [tx_busy], 0
    jmp .eoi

.rda:
    inc dword [rda_irqs]
    call restart_idle
    call drain_fifo                    ; ECX = bytes read
    mov edx, eax                       ; IIR
    cmp byte [phase], 1
    jne .rda4
    inc dword [trig1_irqs]
    add [trig1_bytes], ecx
    cmp edx, IIR_FIFO | IIR_RDA
    jne .bad1
    cmp ecx, 1
    je .eoi
.bad1:
    inc dword [trig1_bad]
    jmp .eoi
.rda4:
    cmp byte [phase], 4
    jne .eoi                           ; 16450 mode: checked by main
    inc dword [trig4_irqs]
    add [trig4_bytes], ecx
    cmp edx, IIR_FIFO | IIR_RDA
    jne .bad4
    cmp ecx, 4
    je .eoi
.bad4:
    inc dword [trig4_bad]
    jmp .eoi

.timeout:
    call restart_idle
    call drain_fifo
    inc dword [timeout_irqs]
    add [timeout_bytes], ecx

.eoi:
    inc dword [rx_irqs_total]
    XENO_PIC_EOI
    popad
    iret

; A byte came: the idle time starts over.
restart_idle:
    mov dword [idle_periods], 0
    jmp pit_arm_one_shot

; Read bytes while LSR.DR into rx_buf; ECX = how many. Keeps EAX.
drain_fifo:
    push eax
    xor ecx, ecx
.next:
    mov dx, UART_LSR
    in al, dx
    test al, LSR_DR
    jz .done
    mov dx, UART_RBR
    in al, dx
    inc ecx
    mov ebx, [rx_len]
    cmp ebx, RX_MAX
    jae .overflow
    mov [rx_buf + ebx], al
    inc dword [rx_len]
    jmp .next
.overflow:
    inc dword [rx_overflow]
    jmp .next
.done:
    pop eax
    ret

    XENO_IRQ_ROUTINES
    XENO_FLAT_GDT

msg_no_input:   db "uart-irq: no serial input", 10, 0
    align 4
pit_irqs:          dd 0
thre_irqs:         dd 0
thre_before:       dd 0
thre_irqs_gated:   dd 0
thre_irqs_out2:    dd 0
thre_irqs_echo:    dd 0
thre_irqs_after_read: dd 0
thre_bad:          dd 0
irr_thre_gated:    dd 0
iir_first_thre:    dd 0
iir_after_thre:    dd 0
rda_irqs:          dd 0
rda_irqs_gated:    dd 0
rda_irqs_out2:     dd 0
irr_rda_gated:     dd 0
iir_rda_gated:     dd 0
iir_first_rda:     dd 0
rx_len_first:      dd 0
iir_fifo_idle:     dd 0
trig1_irqs:        dd 0
trig1_bytes:       dd 0
trig1_bad:         dd 0
trig4_irqs:        dd 0
trig4_bytes:       dd 0
trig4_bad:         dd 0
timeout_irqs:      dd 0
timeout_bytes:     dd 0
iir_after_timeout: dd 0
unknown_iir:       dd 0
rx_irqs_total:     dd 0
idle_periods:      dd 0
IDLE_LIMIT equ 2
lsr_at_end:        dd 0
rx_len:            dd 0
rx_overflow:       dd 0
line_start:        dd 0
lines_echoed:      dd 0
tx_ptr:            dd tx_buf
tx_bytes:          dd 0
tx_lines:          dd 0
tx_stalled:        dd 0
iir_count:         dd 0
phase:             db 0        ; 0: 16450 mode, 1: trigger level 1, 4: trigger level 4
input_idle:        db 0
idle_watch:        db 0
tx_busy:           db 0
thre_off_when_done: db 0
IIR_LOG equ 64
iir_log:           times IIR_LOG db 0
tx_buf:            times TX_MAX db 0
rx_buf:            times RX_MAX db 0
    XENO_IDT32 0x30, xeno_exception, xeno_unexpected_irq, IRQ0_VEC, irq0, IRQ4_VEC, irq4
