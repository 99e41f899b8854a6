/* Memory layout of the hw build, shared by the assembly, the linker script
 * (through the C preprocessor) and C++. Plain #defines: the linker script and
 * GAS cannot read C++.
 *
 * The kernel image is loaded at machine address 1 MiB and linked in the top
 * 2 GiB of the address space (-mcmodel=kernel): virtual = machine + KERNEL_VMA.
 * All machine memory is reachable at DIRECT_MAP_BASE + machine address
 * (hal::machine_to_virt), mapped with 2 MiB pages (1 GiB pages where the CPU
 * has them, for memory above 4 GiB). */
#pragma once

#define KERNEL_LMA 0x100000
#define KERNEL_VMA 0xffffffff80000000
#define DIRECT_MAP_BASE 0xffff800000000000
/* The boot page tables map the first 4 GiB of machine memory (RAM below the PCI
 * hole, the local APIC, the module and multiboot info GRUB placed). */
#define BOOT_DIRECT_MAP_GIB 4

/* GDT selectors (gdt.cpp builds the table; boot.S uses the same layout). */
#define SEL_KERNEL_CS 0x08
#define SEL_KERNEL_DS 0x10
#define SEL_TSS 0x18

#define BOOT_STACK_SIZE (64 * 1024)
#define MULTIBOOT2_BOOTLOADER_MAGIC 0x36d76289

/* Physical CPUs the hypervisor uses at most (hal::kMaxCpus; ap_boot.S). */
#define HW_MAX_CPUS 8
