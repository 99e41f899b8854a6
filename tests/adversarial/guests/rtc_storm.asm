; rtc_storm: the MC146818 with every interrupt source on (periodic at 8192
; Hz, alarm "don't care" every second field, update-ended) into the slave
; 8259A; the handler reads register C (which lowers IRQ8) and EOIs both
; chips. The guest takes 400 interrupts and checks that every one had a
; flag in register C set. Status 0.
%include "adv.inc"
%include "xeno_pc.inc"
TARGET equ 400
    ADV_PM32 main
main:
    mov ecx, 0x28
    mov eax, irq8
    call adv_set_gate32
    XENO_PIC_INIT 0xfb, 0xfe              ; IRQ2 (cascade) and IRQ8
    mov al, XENO_RTC_SEC_ALARM            ; alarms: 0xc0-0xff is "don't care"
    mov ah, 0xff
    call xeno_cmos_write
    mov al, XENO_RTC_MIN_ALARM
    mov ah, 0xff
    call xeno_cmos_write
    mov al, XENO_RTC_HOUR_ALARM
    mov ah, 0xff
    call xeno_cmos_write
    mov al, XENO_RTC_A
    mov ah, 0x23                          ; time base on, rate 3: 8192 Hz
    call xeno_cmos_write
    mov al, XENO_RTC_B
    mov ah, 0x72                          ; PIE | AIE | UIE, 24-hour
    call xeno_cmos_write
.wait:
    sti
    hlt
    cli
    cmp dword [adv_irqs], TARGET
    jb .wait
    cmp dword [no_flag], 0
    FAIL_IF ne, 2
    XENO_EXIT 0
irq8:
    push eax
    mov al, XENO_RTC_C
    call xeno_cmos_read
    test al, 0x80                         ; IRQF
    jnz .flagged
    inc dword [no_flag]
.flagged:
    inc dword [adv_irqs]
    XENO_PIC_EOI_CASCADED
    pop eax
    iret
    align 4
no_flag: dd 0
    XENO_CMOS_ROUTINES
    ADV_ROUTINES
