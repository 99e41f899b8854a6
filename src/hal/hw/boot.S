/* Multiboot2 entry: 32-bit protected mode (multiboot2 spec, "I386 machine
 * state") -> long mode -> the higher-half kernel. See layout.h for the map.
 *
 * GRUB enters _start32 with paging off, EAX = the multiboot2 magic, EBX = the
 * machine address of the boot information. We build the boot page tables
 * (identity + direct map of the first 4 GiB, and the kernel's top-2-GiB
 * window onto the first 1 GiB), enable PAE + EFER.LME + paging (SDM Vol. 3A,
 * 10.8.5 "Initializing IA-32e Mode"), far-jump into 64-bit code, jump to the
 * high link address, zero .bss and call hw_main(magic, info). */
#include "layout.h"

#define PHYS(sym) ((sym) - KERNEL_VMA)
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

/* ---- multiboot2 header (multiboot2 spec 3.1.1): first 32 KiB, 8-aligned -- */
    .section .multiboot2, "a"
    .balign 8
mb2_header:
    .long 0xe85250d6                        /* magic */
    .long 0                                 /* architecture: i386 protected mode */
    .long mb2_header_end - mb2_header       /* header length */
    .long 0x100000000 - (0xe85250d6 + (mb2_header_end - mb2_header))
    /* Information request tag: we need the memory map (6), modules (3) and
     * the command line (1); GRUB gives them anyway, this makes it explicit. */
    .balign 8
    .short 1, 0
    .long 8 + 3 * 4
    .long 1, 3, 6
    .balign 8
    /* Module alignment tag: modules page-aligned. */
    .short 6, 0
    .long 8
    .balign 8
    .short 0, 0                             /* end tag */
    .long 8
mb2_header_end:

/* ---- boot page tables and boot stack (machine addresses, zeroed here) ---- */
    .section .boot.bss, "aw", @nobits
    .balign 4096
    .global boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096      /* PML4[0] and PML4[256]: first 4 GiB */
boot_pdpt_high: .skip 4096      /* PML4[511]: -2 GiB -> first 1 GiB */
boot_pd:        .skip 4096 * BOOT_DIRECT_MAP_GIB
boot_tables_end:
boot_stack32:   .skip 1024
boot_stack32_top:

/* ---- 32-bit code ---- */
    .section .boot.text, "ax"
    .code32
    .global _start32
_start32:
    cli
    cld
    mov $boot_stack32_top, %esp
    mov %eax, %edi                      /* magic, kept until hw_main */
    mov %ebx, %esi                      /* multiboot2 info */

    /* Long mode present? CPUID.80000001H:EDX.LM[29]. Otherwise say so on COM1. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    bt $29, %edx
    jnc no_long_mode

    /* Zero the tables. */
    mov %edi, %ebp
    mov $boot_pml4, %edi
    mov $(boot_tables_end - boot_pml4) / 4, %ecx
    xor %eax, %eax
    rep stosl
    mov %ebp, %edi

    /* PML4: identity (removed once in the high half), direct map, kernel. */
    movl $(boot_pdpt_low + PTE_P + PTE_W), boot_pml4
    movl $(boot_pdpt_low + PTE_P + PTE_W), boot_pml4 + 256 * 8
    movl $(boot_pdpt_high + PTE_P + PTE_W), boot_pml4 + 511 * 8
    /* PDPT: 4 PDs for the first 4 GiB; KERNEL_VMA is PDPT index 510. */
    mov $boot_pdpt_low, %ebx
    mov $(boot_pd + PTE_P + PTE_W), %eax
    mov $BOOT_DIRECT_MAP_GIB, %ecx
1:  mov %eax, (%ebx)
    add $8, %ebx
    add $4096, %eax
    loop 1b
    movl $(boot_pd + PTE_P + PTE_W), boot_pdpt_high + 510 * 8
    /* PDs: 2 MiB pages covering [0, 4 GiB). */
    mov $boot_pd, %ebx
    mov $(PTE_P + PTE_W + PTE_PS), %eax
    mov $512 * BOOT_DIRECT_MAP_GIB, %ecx
1:  mov %eax, (%ebx)
    add $8, %ebx
    add $0x200000, %eax
    loop 1b

    /* CR4.PAE, CR3, EFER.LME (+ NXE when present), CR0.PG|WP. */
    mov %cr4, %eax
    or $(1 << 5), %eax
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0x80000001, %eax
    cpuid
    mov %edx, %ebx
    mov $0xc0000080, %ecx
    rdmsr
    or $(1 << 8), %eax                  /* LME */
    bt $20, %ebx                        /* CPUID.80000001H:EDX.NX */
    jnc 2f
    or $(1 << 11), %eax                 /* NXE */
2:  wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax                /* PG | WP | PE */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $SEL_KERNEL_CS, $long_mode_low

no_long_mode:
    mov $no_lm_msg, %esi
1:  lodsb
    test %al, %al
    jz 3f
    mov %al, %bl
    mov $0x3fd, %dx
2:  inb %dx, %al
    test $0x20, %al
    jz 2b
    mov $0x3f8, %dx
    mov %bl, %al
    outb %al, %dx
    jmp 1b
3:  cli
    hlt
    jmp 3b

    .code64
long_mode_low:
    mov $SEL_KERNEL_DS, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    movabs $long_mode_high, %rax
    jmp *%rax

    .section .boot.data, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff            /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff            /* 0x10: data, DPL 0 */
boot_gdt_end:
boot_gdt_ptr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt
no_lm_msg:
    .asciz "xeno: this CPU has no long mode\r\n"

/* ---- 64-bit, high half ---- */
    .text
    .code64
long_mode_high:
    mov %edi, %r12d                     /* zero-extends: the upper halves are undefined */
    mov %esi, %r13d
    /* Zero .bss (including the kernel stack), then switch to that stack. */
    movabs $__bss_start, %rdi
    movabs $__bss_end, %rcx
    sub %rdi, %rcx
    shr $3, %rcx
    xor %eax, %eax
    rep stosq
    movabs $boot_stack_top, %rsp
    xor %ebp, %ebp
    mov %r12, %rdi
    mov %r13, %rsi
    call hw_main
1:  cli
    hlt
    jmp 1b

    .section .bss.stack, "aw", @nobits
    .balign 16
    .global boot_stack_bottom
boot_stack_bottom:
    .skip BOOT_STACK_SIZE
    .global boot_stack_top
boot_stack_top:
    .section .note.GNU-stack, "", @progbits
