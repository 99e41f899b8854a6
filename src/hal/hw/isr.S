/* Exception entry stubs (vectors 0-31). Each pushes a zero error code when
 * the CPU does not (SDM Vol. 3A, 7.13 "Error Code") and its vector, then
 * isr_common saves the GPRs and calls hw_exception(ExceptionFrame*), which
 * prints a register dump and stops the machine. The frame layout is
 * ExceptionFrame in descriptors.cpp. */

.macro ISR_NOERR n
isr_\n:
    push $0
    push $\n
    jmp isr_common
.endm
.macro ISR_ERR n
isr_\n:
    push $\n
    jmp isr_common
.endm

    .text
    .code64
ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR 8
ISR_NOERR 9
ISR_ERR 10
ISR_ERR 11
ISR_ERR 12
ISR_ERR 13
ISR_ERR 14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR 17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR 21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR 29
ISR_ERR 30
ISR_NOERR 31

isr_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    and $-16, %rsp
    call hw_exception                   /* does not return */
1:  cli
    hlt
    jmp 1b

/* Host interrupts taken in root operation (the hypervisor's idle wait,
 * `sti; hlt`): the timer, another CPU's kick and the spurious vector.
 * Caller-saved registers are kept (the interrupted code is C++), then
 * hw_host_interrupt(vector). */
.macro HOST_IRQ n
    .global hw_irq_\n
hw_irq_\n:
    push %rbp
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    mov %rsp, %rbp
    mov $\n, %edi
    and $-16, %rsp
    call hw_host_interrupt
    mov %rbp, %rsp
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    pop %rbp
    iretq
.endm
HOST_IRQ 240
HOST_IRQ 241
HOST_IRQ 255

    .section .rodata
    .balign 8
    .global hw_isr_table
hw_isr_table:
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad isr_\n
.endr
    .section .note.GNU-stack, "", @progbits
