; boot-multiboot1: a multiboot 1 kernel (GNU Multiboot Specification 0.6.96)
; loaded by the a.out kludge (header flag 16: load_addr, load_end_addr,
; bss_end_addr, entry_addr instead of ELF), checking what the domain builder
; gives a multiboot kernel and the PC it finds:
;   - EAX = 0x2badb002; the information structure (EBX, spec 3.3): flags
;     with mem_lower/mem_upper, cmdline, mods, mmap and boot_loader_name;
;     mem_lower 639 KiB, mem_upper the RAM from 1 MiB; the command line equal
;     to scenario.toml's append; one module, "initrd", page aligned (header
;     flag 0) after the kernel's bss, its size and FNV-1a those initrd.asm
;     built; the memory map: low RAM, the EBDA and the BIOS area reserved,
;     RAM from 1 MiB to the end; boot loader name "Xeno";
;   - ACPI: the RSDP found by scanning the BIOS area 0xe0000-0xfffff; the
;     RSDP, RSDT, XSDT, FADT, DSDT and MADT checksums; the MADT's enabled
;     local APICs (= the scenario's smp), its I/O APIC at 0xfec00000 and the
;     interrupt source override ISA IRQ0 -> GSI 2;
;   - fw_cfg (QEMU's, ports 0x510/0x511): the signature "QEMU", the ID, the
;     CPU count and RAM size, the file etc/e820 from the directory, whose
;     entries are the memory map's;
;   - interrupts, on its own GDT and IDT, the 8259As masked: a one-shot
;     local APIC timer interrupt, and the PIT's (mode 0, one edge) through
;     the I/O APIC pin the MADT's override names.
; "ok <check>" / "FAIL <check> got=<value>" lines; status 0 when all pass,
; else 1 (an unexpected exception: 3, interrupt: 2).
%define BOOT_KERNEL
%include "xeno_irq.inc"                ; xeno.inc, xeno_check.inc, xeno_pc.inc
%include "xeno_boot.inc"
%include "initrd.asm"                  ; INITRD_SIZE, INITRD_SEED
    BOOT_INITRD_FNV INITRD_SIZE, INITRD_SEED    ; INITRD_FNV

BOOT_MEM_BYTES      equ 32 << 20        ; scenario.toml: memory_mb = 32
SMP                 equ 2               ; scenario.toml: smp = 2

; ---- Multiboot 1 (spec 3.1 and 3.3) ----
MB1_HEADER_MAGIC    equ 0x1badb002
MB1_BOOT_MAGIC      equ 0x2badb002
MB1_PAGE_ALIGN      equ 1 << 0          ; modules on 4 KiB boundaries
MB1_MEMORY_INFO     equ 1 << 1          ; mem_* and mmap_*
MB1_ADDRESSES       equ 1 << 16         ; the a.out kludge fields are valid
MB1_FLAGS           equ MB1_PAGE_ALIGN | MB1_MEMORY_INFO | MB1_ADDRESSES
; struct multiboot_info
MBI_FLAGS           equ 0
MBI_MEM_LOWER       equ 4
MBI_MEM_UPPER       equ 8
MBI_CMDLINE         equ 16
MBI_MODS_COUNT      equ 20
MBI_MODS_ADDR       equ 24
MBI_MMAP_LENGTH     equ 44
MBI_MMAP_ADDR       equ 48
MBI_LOADER_NAME     equ 64
MBI_HAS             equ 1 << 0 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 9  ; mem, cmdline, mods, mmap, name
MMAP_MAX            equ 16

TIMER_VECTOR        equ 0x40
PIT_VECTOR          equ 0x41
SPURIOUS_VECTOR     equ 0xff
APIC_DIVIDE_16      equ 0x3
TIMER_COUNT         equ 62500           ; 1 ms at the timer's 1 GHz / 16
PIT_ONE_SHOT        equ 2386            ; mode 0: OUT0 rises 2 ms after the count
IOAPIC_PINS         equ 24

    org BOOT_KERNEL_BASE
    bits 32
mb1_header:                             ; 4-aligned, in the first 8192 bytes
    dd MB1_HEADER_MAGIC, MB1_FLAGS, -(MB1_HEADER_MAGIC + MB1_FLAGS)
    dd mb1_header                       ; header_addr
    dd BOOT_KERNEL_BASE                 ; load_addr: the file's first byte
    dd image_end                        ; load_end_addr
    dd bss_end                          ; bss_end_addr
    dd start                            ; entry_addr

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
    mov eax, [boot_eax]
    cmp eax, MB1_BOOT_MAGIC
    CHECK32 "multiboot1-eax-magic-2badb002"
    BOOT_CHECK_PAGING_OFF "entry-protected-mode-paging-off"

    ; ---- The information structure ----
    mov ebx, [boot_ebx]
    mov eax, [ebx + MBI_FLAGS]
    and eax, MBI_HAS
    cmp eax, MBI_HAS
    mov eax, [ebx + MBI_FLAGS]
    CHECK32 "multiboot1-flags-mem-cmdline-mods-mmap-loader-name"
    mov eax, [ebx + MBI_MEM_LOWER]
    cmp eax, BOOT_MEM_LOWER_KIB
    CHECK32 "multiboot1-mem-lower-639-kib"
    mov eax, [ebx + MBI_MEM_UPPER]
    cmp eax, (BOOT_MEM_BYTES - 0x100000) / 1024
    CHECK32 "multiboot1-mem-upper-ram-from-1mib"
    mov esi, msg_cmdline
    mov edi, [ebx + MBI_CMDLINE]
    call boot_print_line
    mov esi, edi
    mov edi, append
    call boot_streq
    mov eax, esi
    CHECK32 "multiboot1-cmdline-equals-append"
    mov esi, [ebx + MBI_LOADER_NAME]
    mov edi, str_xeno
    call boot_streq
    mov eax, esi
    CHECK32 "multiboot1-boot-loader-name-xeno"

    ; The module: one, "initrd", page aligned past the kernel, the bytes built.
    mov eax, [ebx + MBI_MODS_COUNT]
    cmp eax, 1
    CHECK32 "multiboot1-one-module"
    jne .mods_done
    mov ebp, [ebx + MBI_MODS_ADDR]      ; mod_start, mod_end, string, reserved
    mov esi, msg_module
    mov eax, [ebp]
    call xeno_puts32
    call xeno_hex32
    mov esi, msg_dash
    mov eax, [ebp + 4]
    call boot_print_hex
    mov esi, [ebp + 8]
    mov edi, str_initrd
    call boot_streq
    mov eax, esi
    CHECK32 "multiboot1-module-string-initrd"
    mov eax, [ebp]
    test eax, 0xfff
    CHECK32 "multiboot1-module-page-aligned"
    cmp eax, bss_end
    sbb ecx, ecx                        ; -1 when below the kernel's end
    test ecx, ecx
    CHECK32 "multiboot1-module-after-the-kernel"
    mov eax, [ebp + 4]
    sub eax, [ebp]
    cmp eax, INITRD_SIZE
    CHECK32 "multiboot1-module-size"
    mov esi, [ebp]
    mov ecx, INITRD_SIZE
    call boot_fnv1a
    mov esi, msg_fnv
    call boot_print_hex
    cmp eax, INITRD_FNV
    CHECK32 "initrd-fnv1a-as-built"
.mods_done:

    ; The memory map: entries of `size` (not counting itself) bytes, copied
    ; to mmap_copy as {addr, len, type} 24 bytes apart for e820_verify.
    mov esi, [ebx + MBI_MMAP_ADDR]
    mov edx, esi
    add edx, [ebx + MBI_MMAP_LENGTH]    ; EDX = the end
    mov edi, mmap_copy
    xor ecx, ecx
.mmap_next:
    cmp esi, edx
    jae .mmap_done
    cmp ecx, MMAP_MAX
    jae .mmap_done
    push esi
    add esi, 4
    movsd                               ; addr
    movsd
    movsd                               ; len
    movsd
    movsd                               ; type
    add edi, 4
    pop esi
    mov eax, [esi]
    lea esi, [esi + eax + 4]
    inc ecx
    jmp .mmap_next
.mmap_done:
    mov esi, mmap_copy
    mov edx, 24
    call e820_verify
    cmp eax, BOOT_E820_OK
    CHECK32 "multiboot1-mmap-low-ram-reserved-holes-ram-from-1mib"

    ; ---- ACPI ----
    call acpi_find_rsdp
    mov esi, msg_rsdp
    call boot_print_hex
    BOOT_CHECK_NONZERO "acpi-rsdp-found-in-bios-area"
    jne .madt_done                      ; (the flags of the check: ZF=0 failed)
    call acpi_verify
    mov esi, [acpi_madt]
    test esi, esi
    jz .madt_done
    mov eax, [esi + 36]
    cmp eax, XENO_LAPIC
    CHECK32 "madt-local-apic-address-fee00000"
    mov edi, esi
    add edi, [esi + 4]                  ; EDI = the MADT's end
    add esi, 44                         ; the first interrupt controller structure
    xor ecx, ecx                        ; enabled local APICs
    xor edx, edx                        ; I/O APICs
.madt_next:
    cmp esi, edi
    jae .madt_walked
    movzx eax, byte [esi + 1]
    cmp eax, 2
    jb .madt_walked                     ; malformed: stop
    mov al, [esi]
    cmp al, 0                           ; Processor Local APIC
    jne .not_lapic
    test byte [esi + 4], 1              ; enabled
    jz .madt_skip
    inc ecx
.not_lapic:
    cmp al, 1                           ; I/O APIC
    jne .not_ioapic
    inc edx
    mov eax, [esi + 4]
    mov [ioapic_address], eax
    mov eax, [esi + 8]
    mov [ioapic_gsi_base], eax
    mov al, 1
.not_ioapic:
    cmp al, 2                           ; Interrupt Source Override
    jne .madt_skip
    cmp word [esi + 2], 0               ; bus 0 (ISA), source IRQ 0
    jne .madt_skip
    mov eax, [esi + 4]
    mov [pit_gsi], eax
.madt_skip:
    movzx eax, byte [esi + 1]
    add esi, eax
    jmp .madt_next
.madt_walked:
    mov esi, msg_madt
    mov eax, ecx
    call xeno_puts32
    call xeno_hex32
    mov esi, msg_madt_ioapic
    mov eax, [ioapic_address]
    call xeno_puts32
    call xeno_hex32
    mov esi, msg_madt_gsi
    mov eax, [pit_gsi]
    call boot_print_hex
    mov eax, ecx
    cmp eax, SMP
    CHECK32 "madt-enabled-local-apics-equal-smp"
    mov eax, edx
    cmp eax, 1
    CHECK32 "madt-one-io-apic"
    mov eax, [ioapic_address]
    cmp eax, XENO_IOAPIC
    CHECK32 "madt-io-apic-at-fec00000"
    mov eax, [pit_gsi]
    cmp eax, 2
    CHECK32 "madt-override-irq0-to-gsi2"
.madt_done:

    ; ---- fw_cfg ----
    mov ax, FWCFG_SIGNATURE
    mov ecx, 4
    call fwcfg_item
    cmp eax, 'QEMU'
    CHECK32 "fwcfg-signature-qemu"
    mov ax, FWCFG_ID
    mov ecx, 4
    call fwcfg_item
    and eax, 1
    cmp eax, 1
    CHECK32 "fwcfg-id-traditional-interface"
    mov ax, FWCFG_NB_CPUS
    mov ecx, 4
    call fwcfg_item
    cmp eax, SMP
    CHECK32 "fwcfg-nb-cpus-equals-smp"
    mov ax, FWCFG_RAM_SIZE
    mov ecx, 8
    call fwcfg_item
    cmp dword [fwcfg_buffer + 4], 0
    jne .ram_size
    cmp eax, BOOT_MEM_BYTES
.ram_size:
    CHECK32 "fwcfg-ram-size"
    mov esi, str_etc_e820
    call fwcfg_find_file
    push ecx
    mov esi, msg_e820_file
    call boot_print_hex
    pop ecx
    BOOT_CHECK_NONZERO "fwcfg-directory-lists-etc-e820"
    jne .fwcfg_done
    cmp ecx, MMAP_MAX * 20
    jbe .e820_size
    mov ecx, MMAP_MAX * 20
.e820_size:
    call fwcfg_item
    mov eax, ecx
    xor edx, edx
    mov ecx, 20
    div ecx
    mov ecx, eax                        ; entries
    mov esi, fwcfg_buffer
    mov edx, 20                         ; QEMU's packed {addr, len, type}
    call e820_verify
    cmp eax, BOOT_E820_OK
    CHECK32 "fwcfg-etc-e820-is-the-memory-map"
.fwcfg_done:

    ; ---- Interrupts: its own GDT and IDT, the 8259As masked ----
    lgdt [xeno_gdt_desc]
    jmp XENO_CODE32_SEL:.new_cs
.new_cs:
    mov ax, XENO_DATA32_SEL
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    call xeno_idt32_setup
    XENO_USE_APICS SPURIOUS_VECTOR
    mov dword [XENO_LAPIC + XENO_APIC_TIMER_DIV], APIC_DIVIDE_16
    mov dword [XENO_LAPIC + XENO_APIC_LVT_TIMER], TIMER_VECTOR  ; one-shot
    mov dword [XENO_LAPIC + XENO_APIC_TIMER_INIT], TIMER_COUNT
    XENO_HLT_NEXT timer_count
    mov eax, [timer_count]
    cmp eax, 1
    CHECK32 "lapic-timer-one-shot-interrupt"

    ; The PIT on the pin the MADT's override names (pin 2 when it named none).
    mov eax, [pit_gsi]
    sub eax, [ioapic_gsi_base]
    cmp eax, IOAPIC_PINS
    jb .pin
    mov eax, 2
.pin:
    mov [pit_pin], eax
    XENO_IOAPIC_ROUTE eax, PIT_VECTOR, 0    ; fixed, physical APIC 0, edge
    XENO_PIT_START XENO_PIT_CH0_MODE0, PIT_ONE_SHOT
    XENO_HLT_NEXT pit_count
    XENO_IOAPIC_ROUTE [pit_pin], XENO_RTE_MASKED, 0
    mov eax, [pit_count]
    cmp eax, 1
    CHECK32 "pit-interrupt-through-io-apic-gsi"

    CHECK_SUMMARY32 "boot-multiboot1: all checks passed"
    XENO_EXIT 0

; AX = a fw_cfg key, ECX = bytes: the item into fwcfg_buffer; EAX = its first dword.
fwcfg_item:
    push edi
    call fwcfg_select
    mov edi, fwcfg_buffer
    call fwcfg_read
    mov eax, [fwcfg_buffer]
    pop edi
    ret

timer_irq:
    inc dword [timer_count]
    XENO_LAPIC_EOI
    iret

pit_irq:
    inc dword [pit_count]
    XENO_LAPIC_EOI
    iret

    XENO_IRQ_ROUTINES
    BOOT_ROUTINES
    XENO_FLAT_GDT
    XENO_IDT32 0x100, xeno_exception, xeno_unexpected_irq, TIMER_VECTOR, timer_irq, PIT_VECTOR, pit_irq

append:         db 'console=ttyS0 xeno.boot=multiboot1 msg="hello world"', 0   ; scenario.toml: append
str_xeno:       db "Xeno", 0
str_initrd:     db "initrd", 0
str_etc_e820:   db "etc/e820", 0
msg_entered:    db "boot-multiboot1: entered with eax=", 0
msg_ebx:        db " ebx=", 0
msg_cmdline:    db "command line: ", 0
msg_module:     db "module: ", 0
msg_dash:       db "-", 0
msg_fnv:        db "initrd fnv1a: ", 0
msg_rsdp:       db "acpi rsdp: ", 0
msg_madt:       db "madt: local apics ", 0
msg_madt_ioapic: db " io apic ", 0
msg_madt_gsi:   db " irq0 gsi ", 0
msg_e820_file:  db "fw_cfg etc/e820 key: ", 0
    align 4
pit_gsi:        dd -1
image_end:

absolute image_end
    BOOT_DATA
ioapic_address:  resd 1
ioapic_gsi_base: resd 1
pit_pin:         resd 1
timer_count:     resd 1
pit_count:       resd 1
mmap_copy:       resb MMAP_MAX * 24
fwcfg_buffer:    resb MMAP_MAX * 20
                 resb 4096
stack_top:
bss_end:
