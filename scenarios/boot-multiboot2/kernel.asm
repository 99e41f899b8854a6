; boot-multiboot2: a multiboot 2 kernel (Multiboot2 Specification 2.0), an
; ELF32 executable whose header has no address tag, so the domain builder
; loads it as ELF, and an entry address tag, which the loader must prefer to
; e_entry (e_entry leads to a FAIL). It checks:
;   - the machine state of spec 3.3 "I386 machine state": EAX = 0x36d76289,
;     EBX the (8-aligned) information; CS a flat 32-bit code segment and DS,
;     ES, FS, GS, SS flat 32-bit data segments (LAR, LSL and the descriptors
;     in the GDT); CR0.PE set and CR0.PG clear; EFLAGS.VM and IF clear; A20 on;
;   - the information (3.6): total_size and the tags up to the end tag; the
;     command line tag equal to scenario.toml's append; boot loader name
;     "Xeno"; the image load base address (tag 21, which the header's
;     relocatable tag calls for: 1 MiB, where the loader put it); one module tag, "initrd", page aligned (module alignment tag),
;     its size and FNV-1a those initrd.asm built; basic memory information
;     (mem_lower 639 KiB, mem_upper the RAM from 1 MiB); the memory map tag
;     (entry_size 24, version 0: low RAM, the EBDA and the BIOS area
;     reserved, RAM from 1 MiB to the end); the ACPI old (14) and new (15)
;     RSDP tags, copies of the RSDP a BIOS-area scan finds, whose tables
;     check out (xeno_boot.inc acpi_verify).
; "ok <check>" / "FAIL <check> got=<value>" lines; status 0 when all pass, else 1.
%define BOOT_KERNEL
%include "xeno_boot.inc"
%include "initrd.asm"                  ; INITRD_SIZE, INITRD_SEED
    BOOT_INITRD_FNV INITRD_SIZE, INITRD_SEED    ; INITRD_FNV

BOOT_MEM_BYTES      equ 24 << 20        ; scenario.toml: memory_mb = 24

; ---- Multiboot 2 (spec 3.1 and 3.6) ----
MB2_HEADER_MAGIC    equ 0xe85250d6
MB2_BOOT_MAGIC      equ 0x36d76289
MB2_ARCH_I386       equ 0
MB2_OPTIONAL        equ 1               ; header tag flags bit 0
; Information tag types
TAG_END             equ 0
TAG_CMDLINE         equ 1
TAG_LOADER_NAME     equ 2
TAG_MODULE          equ 3
TAG_BASIC_MEMINFO   equ 4
TAG_MMAP            equ 6
TAG_ACPI_OLD        equ 14
TAG_ACPI_NEW        equ 15
TAG_LOAD_BASE       equ 21
TAGS_EXPECTED       equ 1 << TAG_CMDLINE | 1 << TAG_LOADER_NAME | 1 << TAG_MODULE | 1 << TAG_BASIC_MEMINFO | 1 << TAG_MMAP | 1 << TAG_ACPI_OLD | 1 << TAG_ACPI_NEW | 1 << TAG_LOAD_BASE
TAG_TYPES           equ 22              ; the types tag_at records

    org BOOT_KERNEL_BASE
    bits 32
    BOOT_ELF32 wrong_entry, image_end, bss_end

    align 8                             ; 8-aligned, in the first 32768 bytes
mb2_header:
    dd MB2_HEADER_MAGIC, MB2_ARCH_I386, mb2_header_end - mb2_header
    dd -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
.request:                               ; information request: what it needs
    dw 1, 0
    dd .request_end - .request
    dd TAG_CMDLINE, TAG_MODULE, TAG_BASIC_MEMINFO, TAG_MMAP, TAG_ACPI_OLD
.request_end:
    align 8
.optional:                              ; ... and what it would like
    dw 1, MB2_OPTIONAL
    dd .optional_end - .optional
    dd TAG_LOADER_NAME, TAG_ACPI_NEW
.optional_end:
    align 8
    dw 3, 0                             ; entry address
    dd 12
    dd start
    align 8
    dw 6, 0                             ; module alignment: page aligned
    dd 8
    dw 10, 0                            ; relocatable: anywhere in [1 MiB, 16 MiB),
    dd 24                               ; 4 KiB aligned, preferably low
    dd BOOT_KERNEL_BASE, 0x1000000, 0x1000, 1
    dw 0, 0                             ; end
    dd 8
mb2_header_end:

start:
    BOOT_ENTRY stack_top
    cld
    mov esi, msg_entered
    call xeno_puts32
    mov eax, [boot_eax]
    call xeno_hex32
    mov esi, msg_ebx
    mov eax, [boot_ebx]
    call boot_print_hex

    ; ---- The machine state (spec 3.3) ----
    mov eax, [boot_eax]
    cmp eax, MB2_BOOT_MAGIC
    CHECK32 "multiboot2-eax-magic-36d76289"
    mov eax, [boot_ebx]
    test eax, 7
    CHECK32 "multiboot2-ebx-info-8-byte-aligned"
    BOOT_CHECK_FLAT_SEGMENTS "entry", cs, ds, es, fs, gs, ss
    BOOT_CHECK_PAGING_OFF "entry-protected-mode-paging-off"
    BOOT_CHECK_EFLAGS "entry-eflags-vm-if-clear", EFLAGS_VM | EFLAGS_IF
    BOOT_CHECK_A20 "entry-a20-enabled"

    ; ---- The tags: tag_at[type] = the first of each type, tag_mask ----
    mov ebx, [boot_ebx]
    mov eax, [ebx + 4]
    test eax, eax
    CHECK32 "multiboot2-info-reserved-0"
    mov edx, ebx
    add edx, [ebx]                      ; EDX = the end (total_size)
    lea esi, [ebx + 8]
    xor ecx, ecx                        ; module tags
.tag:
    cmp esi, edx
    jae .no_end
    mov eax, [esi]
    cmp eax, TAG_END
    je .end_tag
    cmp eax, TAG_MODULE
    jne .not_module
    inc ecx
.not_module:
    cmp eax, TAG_TYPES
    jae .next
    bts [tag_mask], eax
    cmp dword [tag_at + 4 * eax], 0
    jne .next
    mov [tag_at + 4 * eax], esi
.next:
    mov eax, [esi + 4]
    add eax, 7
    and eax, ~7                         ; tags are 8-aligned
    jz .no_end                          ; a size of 0 would never end
    add esi, eax
    jmp .tag
.end_tag:
    cmp dword [esi + 4], 8
    jne .walked
    lea eax, [esi + 8]
    cmp eax, edx                        ; the last 8 bytes of total_size
    jmp .walked
.no_end:
    test esp, esp                       ; ZF=0
.walked:
    mov eax, [ebx]
    CHECK32 "multiboot2-tags-end-with-the-end-tag-at-total-size"
    mov eax, [tag_mask]
    cmp eax, TAGS_EXPECTED
    CHECK32 "multiboot2-tags-1-2-3-4-6-14-15-21-present"

    mov esi, msg_cmdline
    mov edi, [tag_at + 4 * TAG_CMDLINE]
    add edi, 8
    call boot_print_line
    mov esi, edi
    mov edi, append
    call boot_streq
    mov eax, esi
    CHECK32 "multiboot2-cmdline-tag-equals-append"
    mov esi, [tag_at + 4 * TAG_LOADER_NAME]
    add esi, 8
    mov edi, str_xeno
    call boot_streq
    mov eax, esi
    CHECK32 "multiboot2-boot-loader-name-xeno"
    mov esi, [tag_at + 4 * TAG_LOAD_BASE]
    mov eax, [esi + 4]
    cmp eax, 12
    jne .load_base
    mov eax, [esi + 8]
    cmp eax, BOOT_KERNEL_BASE
.load_base:
    CHECK32 "multiboot2-load-base-tag-1mib"

    ; The module tag: mod_start, mod_end, string.
    mov eax, ecx
    cmp eax, 1
    CHECK32 "multiboot2-one-module-tag"
    mov ebp, [tag_at + 4 * TAG_MODULE]
    test ebp, ebp
    jz .module_done
    mov esi, msg_module
    mov eax, [ebp + 8]
    call xeno_puts32
    call xeno_hex32
    mov esi, msg_dash
    mov eax, [ebp + 12]
    call boot_print_hex
    lea esi, [ebp + 16]
    mov edi, str_initrd
    call boot_streq
    mov eax, esi
    CHECK32 "multiboot2-module-string-initrd"
    mov eax, [ebp + 8]
    test eax, 0xfff
    CHECK32 "multiboot2-module-page-aligned"
    cmp eax, bss_end
    sbb ecx, ecx                        ; -1 when below the kernel's end
    test ecx, ecx
    CHECK32 "multiboot2-module-after-the-kernel"
    mov eax, [ebp + 12]
    sub eax, [ebp + 8]
    cmp eax, INITRD_SIZE
    CHECK32 "multiboot2-module-size"
    mov esi, [ebp + 8]
    mov ecx, INITRD_SIZE
    call boot_fnv1a
    mov esi, msg_fnv
    call boot_print_hex
    cmp eax, INITRD_FNV
    CHECK32 "initrd-fnv1a-as-built"
.module_done:

    ; Basic memory information and the memory map.
    mov esi, [tag_at + 4 * TAG_BASIC_MEMINFO]
    mov eax, [esi + 4]
    cmp eax, 16
    jne .meminfo
    mov eax, [esi + 8]
    cmp eax, BOOT_MEM_LOWER_KIB
.meminfo:
    CHECK32 "multiboot2-basic-meminfo-mem-lower-639-kib"
    mov eax, [esi + 12]
    cmp eax, (BOOT_MEM_BYTES - 0x100000) / 1024
    CHECK32 "multiboot2-basic-meminfo-mem-upper-ram-from-1mib"
    mov esi, [tag_at + 4 * TAG_MMAP]
    mov eax, [esi + 8]                  ; entry_size
    cmp eax, 24
    jne .mmap_format
    mov eax, [esi + 12]                 ; entry_version
    test eax, eax
.mmap_format:
    CHECK32 "multiboot2-mmap-entry-size-24-version-0"
    mov eax, [esi + 4]
    sub eax, 16
    xor edx, edx
    mov ecx, 24
    div ecx
    mov ecx, eax                        ; entries
    add esi, 16
    mov edx, 24
    call e820_verify
    cmp eax, BOOT_E820_OK
    CHECK32 "multiboot2-mmap-low-ram-reserved-holes-ram-from-1mib"

    ; ---- ACPI: the RSDP tags are copies of the RSDP in memory ----
    call acpi_find_rsdp
    mov esi, msg_rsdp
    call boot_print_hex
    BOOT_CHECK_NONZERO "acpi-rsdp-found-in-bios-area"
    mov edi, eax
    mov esi, [tag_at + 4 * TAG_ACPI_OLD]
    mov eax, [esi + 4]
    cmp eax, 8 + 20
    jne .old
    add esi, 8
    mov ecx, 20
    call boot_memeq
.old:
    CHECK32 "multiboot2-acpi-old-rsdp-tag-is-the-rsdp-in-memory"
    mov esi, [tag_at + 4 * TAG_ACPI_NEW]
    mov eax, [esi + 4]
    cmp eax, 8 + 36
    jne .new
    add esi, 8
    mov ecx, 36
    call boot_memeq
.new:
    CHECK32 "multiboot2-acpi-new-rsdp-tag-is-the-rsdp-in-memory"
    mov eax, edi
    test eax, eax
    jz .acpi_done
    call acpi_verify
.acpi_done:

    CHECK_SUMMARY32 "boot-multiboot2: all checks passed"
    XENO_EXIT 0

; e_entry: a loader that ignores the entry address tag comes here.
wrong_entry:
    BOOT_ENTRY stack_top
    mov esi, msg_wrong_entry
    call xeno_puts32
    XENO_EXIT 1

    BOOT_ROUTINES
    BOOT_PRINT_CHECK_ROUTINES

append:         db "xeno.boot=multiboot2 root=/dev/ram0 \path\with\backslashes", 0  ; scenario.toml: append
str_xeno:       db "Xeno", 0
str_initrd:     db "initrd", 0
msg_entered:    db "boot-multiboot2: entered with eax=", 0
msg_ebx:        db " ebx=", 0
msg_cmdline:    db "command line: ", 0
msg_module:     db "module: ", 0
msg_dash:       db "-", 0
msg_fnv:        db "initrd fnv1a: ", 0
msg_rsdp:       db "acpi rsdp: ", 0
msg_wrong_entry: db "FAIL entered at the ELF e_entry, not the multiboot2 entry address tag", 10, 0
    align 4
image_end:

absolute image_end
    BOOT_DATA
tag_mask:       resd 1
tag_at:         resd TAG_TYPES
                resb 4096
stack_top:
bss_end:
