; boot-pvh: a PVH kernel, an ELF64 executable (as Linux's vmlinux is) with
; Xen's XEN_ELFNOTE_PHYS32_ENTRY note (type 18, name "Xen", public/elfnote.h)
; naming its 32-bit entry; e_entry leads to a FAIL. It checks, after Xen's
; PVH boot ABI (docs/misc/pvh.pandoc) and public/arch-x86/hvm/start_info.h:
;   - the entry state: EBX the hvm_start_info (magic 0x336ec578); CS a flat
;     32-bit code segment, DS, ES, SS flat 32-bit data segments (LAR, LSL and
;     the descriptors in the GDT); CR0 = PE (the other writable bits clear:
;     paging off, caches on), CR4 = 0; EFLAGS.VM, IF and
;     TF clear;
;   - hvm_start_info: version >= 1, flags 0 (an unprivileged domain); the
;     command line equal to scenario.toml's append; nr_modules 1, the module
;     page aligned past the kernel, its command line "initrd", its size and
;     FNV-1a those initrd.asm built; the memory map (version 1: memmap_paddr,
;     memmap_entries; low RAM, the EBDA and the BIOS area reserved, RAM from 1
;     MiB to the end); rsdp_paddr the RSDP a BIOS-area scan finds, whose
;     tables check out (xeno_boot.inc acpi_verify).
; "ok <check>" / "FAIL <check> got=<value>" lines. It ends as a test kernel
; for QEMU does, through isa-debug-exit (scenario.toml debug_exit = "qemu":
; status = value * 2 + 1): it writes 0 when all pass (status 1), 1 when a
; check failed (status 3; an unexpected exception: 3, status 7).
%define BOOT_KERNEL
%include "xeno_boot.inc"
%include "initrd.asm"                  ; INITRD_SIZE, INITRD_SEED
    BOOT_INITRD_FNV INITRD_SIZE, INITRD_SEED    ; INITRD_FNV

BOOT_MEM_BYTES      equ 48 << 20        ; scenario.toml: memory_mb = 48

; ---- Xen's PVH ABI ----
XEN_ELFNOTE_PHYS32_ENTRY equ 18
HVM_START_MAGIC     equ 0x336ec578      ; XEN_HVM_START_MAGIC_VALUE
; struct hvm_start_info
SI_MAGIC            equ 0
SI_VERSION          equ 4
SI_FLAGS            equ 8
SI_NR_MODULES       equ 12
SI_MODLIST_PADDR    equ 16              ; u64: struct hvm_modlist_entry[nr_modules]
SI_CMDLINE_PADDR    equ 24              ; u64
SI_RSDP_PADDR       equ 32              ; u64
SI_MEMMAP_PADDR     equ 40              ; u64 (version 1): struct hvm_memmap_table_entry[]
SI_MEMMAP_ENTRIES   equ 48
; struct hvm_modlist_entry (32 bytes): paddr, size, cmdline_paddr, reserved (u64 each)
; struct hvm_memmap_table_entry (24 bytes): addr, size (u64), type, reserved (u32)

    org BOOT_KERNEL_BASE
    bits 32
    BOOT_ELF64 wrong_entry, image_end, bss_end, xen_note, xen_note_end

    align 4
xen_note:                               ; Elf64_Nhdr: namesz, descsz, type; name, desc padded to 4
    dd 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
    db "Xen", 0
    dd pvh_start
xen_note_end:

pvh_start:
    BOOT_ENTRY stack_top
    cld
    mov esi, msg_entered
    mov eax, [boot_ebx]
    call boot_print_hex

    ; ---- The entry state ----
    mov eax, [boot_ebx]
    test eax, eax
    jz .magic
    mov eax, [eax + SI_MAGIC]
    cmp eax, HVM_START_MAGIC
.magic:
    CHECK32 "pvh-ebx-start-info-magic-336ec578"
    BOOT_CHECK_FLAT_SEGMENTS "entry", cs, ds, es, ss
    ; ET is not writable (1 since the i486). CD and NW are the processor's
    ; (VM entry does not load them, SDM Vol. 3C 26.3.2.1): the hypervisor
    ; runs with the caches on, so they read 0.
    mov eax, cr0
    and eax, ~CR0_ET
    cmp eax, CR0_PE
    mov eax, cr0
    CHECK32 "entry-cr0-pe-only-paging-off"
    mov eax, cr4
    test eax, eax
    CHECK32 "entry-cr4-clear"
    BOOT_CHECK_EFLAGS "entry-eflags-vm-if-tf-clear", EFLAGS_VM | EFLAGS_IF | EFLAGS_TF

    ; ---- hvm_start_info ----
    mov ebx, [boot_ebx]
    mov eax, [ebx + SI_VERSION]
    test eax, eax
    setz cl
    test cl, cl                         ; ZF=1 when version >= 1
    CHECK32 "pvh-start-info-version-at-least-1"
    mov eax, [ebx + SI_FLAGS]
    test eax, eax
    CHECK32 "pvh-start-info-flags-0"
    mov esi, msg_cmdline
    mov edi, [ebx + SI_CMDLINE_PADDR]
    call boot_print_line
    mov esi, edi
    mov edi, append
    call boot_streq
    jne .cmdline
    cmp dword [ebx + SI_CMDLINE_PADDR + 4], 0
.cmdline:
    mov eax, esi
    CHECK32 "pvh-cmdline-equals-append"

    ; The module list: one entry, the initrd.
    mov eax, [ebx + SI_NR_MODULES]
    cmp eax, 1
    CHECK32 "pvh-one-module"
    jne .module_done
    mov ebp, [ebx + SI_MODLIST_PADDR]
    mov eax, [ebx + SI_MODLIST_PADDR + 4]
    or eax, [ebp + 4]                   ; paddr's high dword
    or eax, [ebp + 12]                  ; size's
    or eax, [ebp + 20]                  ; cmdline_paddr's
    CHECK32 "pvh-modlist-below-4gib"
    mov esi, msg_module
    mov eax, [ebp]
    call xeno_puts32
    call xeno_hex32
    mov esi, msg_size
    mov eax, [ebp + 8]
    call boot_print_hex
    mov esi, [ebp + 16]
    mov edi, str_initrd
    call boot_streq
    mov eax, esi
    CHECK32 "pvh-module-cmdline-initrd"
    mov eax, [ebp]
    test eax, 0xfff
    CHECK32 "pvh-module-page-aligned"
    cmp eax, bss_end
    sbb ecx, ecx                        ; -1 when below the kernel's end
    test ecx, ecx
    CHECK32 "pvh-module-after-the-kernel"
    mov eax, [ebp + 8]
    cmp eax, INITRD_SIZE
    CHECK32 "pvh-module-size"
    mov esi, [ebp]
    mov ecx, INITRD_SIZE
    call boot_fnv1a
    mov esi, msg_fnv
    call boot_print_hex
    cmp eax, INITRD_FNV
    CHECK32 "initrd-fnv1a-as-built"
.module_done:

    ; The memory map.
    mov eax, [ebx + SI_MEMMAP_PADDR + 4]
    test eax, eax
    CHECK32 "pvh-memmap-below-4gib"
    mov esi, [ebx + SI_MEMMAP_PADDR]
    mov ecx, [ebx + SI_MEMMAP_ENTRIES]
    mov edx, 24
    call e820_verify
    cmp eax, BOOT_E820_OK
    CHECK32 "pvh-memmap-low-ram-reserved-holes-ram-from-1mib"

    ; ACPI: rsdp_paddr is where a BIOS-area scan finds the RSDP.
    call acpi_find_rsdp
    mov esi, msg_rsdp
    call boot_print_hex
    BOOT_CHECK_NONZERO "acpi-rsdp-found-in-bios-area"
    cmp dword [ebx + SI_RSDP_PADDR + 4], 0
    jne .rsdp
    cmp eax, [ebx + SI_RSDP_PADDR]
.rsdp:
    mov eax, [ebx + SI_RSDP_PADDR]
    CHECK32 "pvh-rsdp-paddr-is-the-rsdp-in-bios-area"
    test eax, eax
    jz .acpi_done
    call acpi_verify                    ; the RSDP at rsdp_paddr and its tables
.acpi_done:

    CHECK_SUMMARY32 "boot-pvh: all checks passed"
    XENO_EXIT 0

; e_entry: a loader that ignores the PVH note comes here.
wrong_entry:
    BOOT_ENTRY stack_top
    mov esi, msg_wrong_entry
    call xeno_puts32
    XENO_EXIT 1

    BOOT_ROUTINES
    BOOT_PRINT_CHECK_ROUTINES

append:         db "xeno.boot=pvh earlyprintk=ttyS0 loglevel=7", 0  ; scenario.toml: append
str_initrd:     db "initrd", 0
msg_entered:    db "boot-pvh: entered with ebx=", 0
msg_cmdline:    db "command line: ", 0
msg_module:     db "module: ", 0
msg_size:       db " size ", 0
msg_fnv:        db "initrd fnv1a: ", 0
msg_rsdp:       db "acpi rsdp: ", 0
msg_wrong_entry: db "FAIL entered at the ELF e_entry, not the XEN_ELFNOTE_PHYS32_ENTRY", 10, 0
    align 4
image_end:

absolute image_end
    BOOT_DATA
                resb 4096
stack_top:
bss_end:
