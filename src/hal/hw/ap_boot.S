/* Start-up code of the application processors (smp.cpp starts them).
 *
 * A STARTUP IPI starts a processor in real mode at CS = vector << 8, IP = 0
 * (SDM Vol. 3A, 9.4.4 "MP Initialization Example"), so smp.cpp copies
 * [hw_ap_trampoline, hw_ap_trampoline_end) to a free page below 1 MiB and
 * patches the four slots at its end: the machine address of the trampoline's
 * GDT, CR3 (a copy of the kernel's top-level table that also maps the low
 * 4 GiB at their machine addresses, so the trampoline keeps running once
 * paging is on), EFER and the far pointer to its 64-bit part. The trampoline
 * goes from real mode straight to IA-32e mode (CR0.PE and CR0.PG in one
 * MOV: SDM Vol. 3A, 10.8.5 "Initializing IA-32e Mode" only asks that
 * paging be enabled after PAE and LME), then to hw_ap_entry in the high
 * half, which takes the kernel's own CR3, a CPU index and that CPU's stack,
 * and calls hw_ap_main(index). All APs may run it at once: nothing in the
 * page is written after smp.cpp patched it. */
#include "layout.h"

#define TR_OFFSET(sym) ((sym) - hw_ap_trampoline)

    .section .rodata
    .balign 16
    .global hw_ap_trampoline
    .global hw_ap_trampoline_end
    .code16
hw_ap_trampoline:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl TR_OFFSET(tr_gdt_pointer)
    mov %cr4, %eax
    or $(1 << 5), %eax                  /* PAE */
    mov %eax, %cr4
    movl TR_OFFSET(tr_cr3), %eax
    mov %eax, %cr3
    mov $0xc0000080, %ecx               /* IA32_EFER: LME (+ NXE as on the boot CPU) */
    movl TR_OFFSET(tr_efer), %eax
    xor %edx, %edx
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                /* PG | WP | PE */
    mov %eax, %cr0
    ljmpl *TR_OFFSET(tr_far_pointer)

    .code64
tr_long_mode:
    movabs $hw_ap_entry, %rax
    jmp *%rax

    .balign 8
    .global hw_ap_gdt
hw_ap_gdt:
tr_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* SEL_KERNEL_CS: 64-bit code */
    .quad 0x00cf92000000ffff            /* SEL_KERNEL_DS */
tr_gdt_end:
    .balign 8
    .global hw_ap_slot_gdt_base, hw_ap_slot_cr3, hw_ap_slot_efer, hw_ap_slot_far_offset, hw_ap_slot_long_mode
tr_gdt_pointer:
    .short tr_gdt_end - tr_gdt - 1
hw_ap_slot_gdt_base:                    /* patched: machine address of tr_gdt */
    .long 0
    .balign 4
hw_ap_slot_cr3:
tr_cr3:
    .long 0
hw_ap_slot_efer:
tr_efer:
    .long 0
tr_far_pointer:
hw_ap_slot_far_offset:                  /* patched: machine address of tr_long_mode */
    .long 0
    .short SEL_KERNEL_CS
hw_ap_trampoline_end:
    .set hw_ap_slot_long_mode, tr_long_mode

/* ---- the high half ---- */
    .text
    .code64
    .global hw_ap_entry
    .type hw_ap_entry, @function
hw_ap_entry:
    mov $SEL_KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov hw_ap_kernel_cr3, %rax
    mov %rax, %cr3
    /* CPU index: the order in which the APs get here, from 1. */
    mov $1, %eax
    lock xaddl %eax, hw_ap_next_index
    cmp $HW_MAX_CPUS, %eax
    jae 2f
    mov hw_ap_stack_tops(, %rax, 8), %rsp
    test %rsp, %rsp
    jz 2f
    xor %ebp, %ebp
    mov %eax, %edi
    call hw_ap_main
2:  /* More processors than the hypervisor uses: this one stays out. */
    cli
    hlt
    jmp 2b
    .size hw_ap_entry, . - hw_ap_entry
    .section .note.GNU-stack, "", @progbits
