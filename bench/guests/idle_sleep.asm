; idle_sleep: a long sleep in HLT, for idle_virtual_per_host: how many
; seconds of virtual time pass per host second while the only vcpu sleeps.
; Both 8259As masked; the local APIC timer wakes it, vector TIMER_VECTOR.
;   param1 = 0 (periodic, a 100 Hz tick as a HZ=100 kernel keeps while
;   idle): LVT timer periodic, divide by 1, initial count 10 000 000 (10 ms
;   at the APIC timer's 1 GHz); the guest waits with STI; HLT until param0
;   ticks arrived, then stops the timer. Each tick: idle jump of virtual
;   time, injection, handler (count, MMIO EOI, IRET), HLT again.
;   param1 = 1 (tickless): one-shot, divide by 128, initial count param0 x
;   78 125 (param0 x 10 ms in 128-ns counts; up to 27 400 ticks), one HLT.
; The window (between two MARKs) is the sleep alone; param0 = 0 sleeps not
; at all (xeno-bench's baseline for virtual time outside the window). After
; the window it prints "irqs=<hex>" and exits 0.
%include "platform.inc"

TIMER_VECTOR     equ 0x40
TICK_COUNT       equ 10000000       ; 10 ms at divide 1
ONESHOT_PER_TICK equ 78125          ; 10 ms at divide 128

    org 0x8000
    BENCH_HEADER kernel, kernel_end, 0, 0
    XENO_ENTER_PM32 main32, STACK_TOP

    bits 32
main32:
    call idt_init
    mov ecx, TIMER_VECTOR
    mov eax, timer_irq
    call idt_set
    call mask_pics
    jmp kernel

    align 16
kernel:
    mov edi, [bench_param0]     ; ticks of 10 ms
    MARK
    test edi, edi
    jz .done
    cmp dword [bench_param1], 0
    jne .oneshot
    mov dword [APIC_TIMER_DIV], DIVIDE_BY_1
    mov dword [APIC_LVT_TIMER], TIMER_VECTOR | LVT_PERIODIC
    mov dword [APIC_TIMER_INIT], TICK_COUNT
    jmp .wait
.oneshot:
    mov dword [APIC_TIMER_DIV], DIVIDE_BY_128
    mov dword [APIC_LVT_TIMER], TIMER_VECTOR
    imul eax, edi, ONESHOT_PER_TICK
    mov [APIC_TIMER_INIT], eax
    mov edi, 1                  ; one interrupt ends this sleep
.wait:
    cli
    cmp [irq_count], edi
    jae .stop
    sti
    hlt                         ; STI's shadow: a pending tick is taken after the HLT
    jmp .wait
.stop:
    mov dword [APIC_TIMER_INIT], 0
.done:
kernel_end:
    MARK
    mov esi, msg_irqs
    mov eax, [irq_count]
    call report
    mov al, 10
    call xeno_putc32
    XENO_EXIT 0

timer_irq:
    inc dword [irq_count]
    mov dword [APIC_EOI], 0
    iret

    PLATFORM_ROUTINES
msg_irqs:   db "irqs=", 0
    align 4
irq_count:  dd 0
