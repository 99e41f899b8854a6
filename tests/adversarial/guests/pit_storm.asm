; pit_storm: the 8254 at its fastest (mode 2, count 2: ~597 kHz) into the
; 8259A, IF = 1, every interrupt acknowledged: an interrupt storm that never
; ends. The run's virtual-time limit stops it.
%include "adv.inc"
%include "xeno_pc.inc"
    ADV_PM32 main
main:
    mov ecx, 0x20
    mov eax, irq0
    call adv_set_gate32
    XENO_PIC_INIT 0xfe, 0xff
    XENO_PIT_START XENO_PIT_CH0_MODE2, 2
    sti
.idle:
    jmp .idle
irq0:
    push eax
    inc dword [adv_irqs]
    XENO_PIC_EOI
    pop eax
    iret
    ADV_ROUTINES
