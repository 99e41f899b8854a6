; io_ports_write: OUT to every I/O port, 0 to 0xffff: a byte, a word and a
; dword of zeros, then a byte of all ones, in 32-bit protected mode with
; interrupts off. Skipped, because they are the platform's documented ways
; to end the run rather than attacks: the debug exit port 0xf4 (and the
; word/dword writes that would reach it from 0xf1-0xf3), and for the ones:
; port 0x92 (bit 0 is a fast reset), 0xcf9 (RST_CPU) and the ACPI PM1a
; control register 0x604-0x605 (SLP_EN with a sleep type). Everything else
; (the PICs, PIT, RTC, UART, i8042, fw_cfg, PCI configuration, ...) takes
; the writes; the guest then still runs and ends with status 0.
%include "adv.inc"
    ADV_PM32 main
main:
    EXPECT faulted
    xor edx, edx
    xor eax, eax
.zero:
    cmp dx, 0xf1
    jb .write
    cmp dx, 0xf4
    jbe .next
.write:
    out dx, al
    out dx, ax
    out dx, eax
.next:
    inc dx
    jnz .zero
    mov al, 0xff
.ones:
    cmp dx, 0xf4
    je .skip
    cmp dx, 0x92
    je .skip
    cmp dx, 0xcf9
    je .skip
    cmp dx, 0x604
    je .skip
    cmp dx, 0x605
    je .skip
    out dx, al
.skip:
    inc dx
    jnz .ones
    NO_FAULT 1
    XENO_EXIT 0
faulted:
    XENO_EXIT 1
    ADV_ROUTINES
