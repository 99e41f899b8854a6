/* Entering a guest and coming back (used by run() in vmx.cpp).
 *
 * u64 hw_vmx_enter(GuestRegs* regs, u64 launched)
 *   Saves the host's callee-saved registers and regs on the host stack,
 *   points HOST_RSP at that stack and HOST_RIP at vmx_exit below, loads CR2
 *   and the guest GPRs (all but RSP, which is GUEST_RSP in the VMCS) from
 *   regs, and executes VMRESUME if launched != 0, else VMLAUNCH.
 *   - VM exit: the processor loads HOST_RSP/HOST_RIP (SDM Vol. 3C 28.5);
 *     vmx_exit stores the guest GPRs and CR2 into regs and returns 0.
 *   - VMfail: execution continues after the instruction with the guest's
 *     GPRs loaded but RSP still the host's; return 1 (CF, VMfailInvalid) or
 *     2 (ZF, VMfailValid).
 * GuestRegs layout: gpr[16] by x86 encoding (8 bytes each), then cr2 at 128. */

#define HOST_RSP 0x6c14
#define HOST_RIP 0x6c16

    .text
    .code64
    .global hw_vmx_enter
    .type hw_vmx_enter, @function
hw_vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                           /* regs, found again at (%rsp) after the exit */

    mov $HOST_RSP, %eax
    vmwrite %rsp, %rax
    lea vmx_exit(%rip), %rdx
    mov $HOST_RIP, %eax
    vmwrite %rdx, %rax

    mov 128(%rdi), %rax
    mov %rax, %cr2

    cmp $0, %rsi                        /* ZF=0: launched. The movs below keep the flags. */
    mov 0(%rdi), %rax
    mov 8(%rdi), %rcx
    mov 16(%rdi), %rdx
    mov 24(%rdi), %rbx
    mov 40(%rdi), %rbp
    mov 48(%rdi), %rsi
    mov 64(%rdi), %r8
    mov 72(%rdi), %r9
    mov 80(%rdi), %r10
    mov 88(%rdi), %r11
    mov 96(%rdi), %r12
    mov 104(%rdi), %r13
    mov 112(%rdi), %r14
    mov 120(%rdi), %r15
    mov 56(%rdi), %rdi
    jne 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  /* VMfail: flags say which. */
    pushfq
    pop %rax
    add $8, %rsp                        /* regs */
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    test $1, %eax                       /* CF */
    jnz 3f
    mov $2, %eax
    ret
3:  mov $1, %eax
    ret
    .size hw_vmx_enter, . - hw_vmx_enter

    .type vmx_exit, @function
vmx_exit:
    push %rdi                           /* guest RDI */
    mov 8(%rsp), %rdi                   /* regs */
    mov %rax, 0(%rdi)
    mov %rcx, 8(%rdi)
    mov %rdx, 16(%rdi)
    mov %rbx, 24(%rdi)
    mov %rbp, 40(%rdi)
    mov %rsi, 48(%rdi)
    mov %r8, 64(%rdi)
    mov %r9, 72(%rdi)
    mov %r10, 80(%rdi)
    mov %r11, 88(%rdi)
    mov %r12, 96(%rdi)
    mov %r13, 104(%rdi)
    mov %r14, 112(%rdi)
    mov %r15, 120(%rdi)
    pop %rax
    mov %rax, 56(%rdi)
    mov %cr2, %rax
    mov %rax, 128(%rdi)
    add $8, %rsp                        /* regs */
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    xor %eax, %eax
    ret
    .size vmx_exit, . - vmx_exit
    .section .note.GNU-stack, "", @progbits
