; boot-linux64: a minimal hand-made bzImage (Documentation/arch/x86/boot.rst)
; for the domain builder's 64-bit boot protocol entry: the boot sector and a
; protocol 2.15 setup header (boot_flag 0xaa55, "HdrS", LOADED_HIGH,
; relocatable at pref_address 16 MiB, init_size, xloadflags = XLF_KERNEL_64),
; then the protected-mode code the builder copies to the load address: at
; offset 0 the 32-bit entry, which must not be taken (it prints a FAIL and ends
; with status 3), at offset 0x200 the 64-bit entry, which checks
;   - the machine state boot.rst's "64-bit Boot Protocol" promises: 64-bit
;     code (CS = __BOOT_CS 0x10 with L set, a 64-bit immediate, RIP-relative
;     addressing at the load address), CR0.PG|PE, CR4.PAE, EFER.LME|LMA,
;     RFLAGS.IF clear, page tables at CR3 that identity-map low memory, the
;     kernel, 3 GiB and the last 2 MiB below 4 GiB (walked through the map);
;   - boot_params at RSI: "HdrS" at 0x202 of the copied setup header, protocol
;     version and XLF_KERNEL_64 as this image has them, type_of_loader set,
;     cmd_line_ptr equal to scenario.toml's append, e820_entries > 0 with the
;     first entry RAM at 0 and the kernel's init_size region in RAM,
;     ramdisk_image/ramdisk_size the initrd (page aligned past the kernel, its
;     size and FNV-1a those initrd.asm built).
; "ok <check>" / "FAIL <check> got=<value>" lines on COM1. It ends through
; QEMU's isa-debug-exit (scenario.toml debug_exit = "qemu": status = value * 2
; + 1): it writes 0 when all pass (status 1), 1 when a check failed or the
; 32-bit entry ran (status 3).
%define BOOT_KERNEL
%include "xeno_boot.inc"
%include "initrd.asm"                  ; INITRD_SIZE, INITRD_SEED
    BOOT_INITRD_FNV INITRD_SIZE, INITRD_SEED    ; INITRD_FNV

KERNEL_BASE     equ 0x1000000           ; pref_address = kernel_alignment: 16 MiB
SETUP_SECTS     equ 1                   ; the setup part: 2 sectors
PROTOCOL        equ 0x020f              ; 2.15
INIT_SIZE       equ 0x20000             ; what the kernel uses from its load address
STACK_TOP       equ KERNEL_BASE + INIT_SIZE
CMDLINE_SIZE    equ 255
XLF_KERNEL_64   equ 1 << 0
LOADED_HIGH     equ 1 << 0
E820_RAM        equ 1

; boot_params (zero-page.rst) and the setup header within it (boot.rst)
BP_E820_ENTRIES equ 0x1e8
BP_HDR_VERSION  equ 0x206
BP_TYPE_OF_LOADER equ 0x210
BP_RAMDISK_IMAGE equ 0x218
BP_RAMDISK_SIZE equ 0x21c
BP_CMD_LINE_PTR equ 0x228
BP_XLOADFLAGS   equ 0x236
BP_EXT_RAMDISK_IMAGE equ 0x0c0
BP_EXT_RAMDISK_SIZE equ 0x0c4
BP_EXT_CMD_LINE_PTR equ 0x0c8
BP_E820_TABLE   equ 0x2d0               ; 20-byte entries: addr, size (u64), type (u32)

; CHECK64 "name": after a compare, ZF=1 passes; a failure prints EAX. Every
; register and the flags are preserved.
%macro CHECK64 1
    push rdi
    lea rdi, [%%name]                   ; LEA keeps the flags
    jne %%bad
    call check_pass64
    jmp %%done
%%bad:
    call check_fail64
%%done:
    pop rdi
    jmp %%after
%%name: db %1, 0
%%after:
%endmacro

; ---- The real-mode part: boot sector and setup header ----
    section setup start=0 vstart=0
    bits 16
    cli                                 ; nobody boots this from a disk
    hlt
    times 0x1f1 - ($ - $$) db 0
hdr_setup_sects:    db SETUP_SECTS      ; 0x1f1
                    dw 0                ; 0x1f2 root_flags
                    dd syssize          ; 0x1f4 syssize: 16-byte paragraphs of the protected-mode code
                    dw 0                ; 0x1f8 ram_size
                    dw 0xffff           ; 0x1fa vid_mode: normal
                    dw 0                ; 0x1fc root_dev
                    dw 0xaa55           ; 0x1fe boot_flag
                    db 0xeb, setup_code - ($ + 2)  ; 0x200 jump over the header: its end
                    db "HdrS"           ; 0x202
                    dw PROTOCOL         ; 0x206 version
                    dd 0                ; 0x208 realmode_swtch
                    dw 0                ; 0x20c start_sys_seg
                    dw 0                ; 0x20e kernel_version
                    db 0                ; 0x210 type_of_loader
                    db LOADED_HIGH      ; 0x211 loadflags
                    dw 0                ; 0x212 setup_move_size
                    dd 0x100000         ; 0x214 code32_start
                    dd 0                ; 0x218 ramdisk_image
                    dd 0                ; 0x21c ramdisk_size
                    dd 0                ; 0x220 bootsect_kludge
                    dw 0                ; 0x224 heap_end_ptr
                    db 0                ; 0x226 ext_loader_ver
                    db 0                ; 0x227 ext_loader_type
                    dd 0                ; 0x228 cmd_line_ptr
                    dd 0x7fffffff       ; 0x22c initrd_addr_max
                    dd KERNEL_BASE      ; 0x230 kernel_alignment
                    db 1                ; 0x234 relocatable_kernel
                    db 21               ; 0x235 min_alignment (2 MiB)
                    dw XLF_KERNEL_64    ; 0x236 xloadflags
                    dd CMDLINE_SIZE     ; 0x238 cmdline_size
                    dd 0                ; 0x23c hardware_subarch
                    dq 0                ; 0x240 hardware_subarch_data
                    dd payload - kernel_start  ; 0x248 payload_offset
                    dd payload_end - payload   ; 0x24c payload_length
                    dq 0                ; 0x250 setup_data
                    dq KERNEL_BASE      ; 0x258 pref_address
                    dd INIT_SIZE        ; 0x260 init_size
                    dd 0                ; 0x264 handover_offset
                    dd 0                ; 0x268 kernel_info_offset
setup_code:                             ; 0x26c: the header's end
    cli
    hlt
    times (SETUP_SECTS + 1) * 512 - ($ - $$) db 0

; ---- The protected-mode part, at KERNEL_BASE ----
    section kernel follows=setup vstart=KERNEL_BASE
kernel_start:
    bits 32
; The 32-bit boot protocol's entry (load address + 0): flat segments, ESI =
; boot_params. A loader that offers it although xloadflags has XLF_KERNEL_64
; and the builder promises the 64-bit entry is wrong here.
entry32:
    mov esp, STACK_TOP
    mov esi, msg_entered32
    call xeno_puts32
    XENO_EXIT 1
    times 0x200 - ($ - kernel_start) db 0xcc

; The 64-bit boot protocol's entry (load address + 0x200).
    bits 64
    default rel
entry64:
    mov [boot_rsi], rsi
    mov rsp, STACK_TOP                  ; the protocol leaves RSP undefined
    pushfq
    pop qword [boot_rflags]
    cld
    lea rsi, [msg_entered]
    call puts64
    mov rax, [boot_rsi]
    call hex64
    call newline64

    ; ---- 64-bit code ----
    mov eax, cs
    cmp eax, 0x10
    CHECK64 "entry-cs-0x10-boot-cs"
    ; The descriptor in the GDT, read as data (then through LAR below).
    sgdt [boot_gdtr]
    mov rdx, [boot_gdtr + 2]
    mov rax, [rdx + 0x10]
    shr rax, 32
    and eax, 0x00609a00                 ; D, L, P, S, code
    cmp eax, 0x00209a00                 ; L set, D clear: 64-bit code
    CHECK64 "entry-gdt-0x10-64-bit-code-descriptor"
    mov ecx, cs
    lar eax, ecx
    and eax, 0x00609a00                 ; D, L, P, S, code
    cmp eax, 0x00209a00                 ; L set, D clear: 64-bit code
    CHECK64 "entry-cs-64-bit-code-segment"
    mov rax, 0x0123456789abcdef         ; a 64-bit immediate (in 32-bit mode: other instructions)
    mov rdx, rax
    shr rdx, 32
    cmp edx, 0x01234567
    mov eax, edx
    CHECK64 "64-bit-immediate-and-shift"
    lea rax, [entry64]                  ; RIP-relative
    mov rdx, KERNEL_BASE + 0x200
    cmp rax, rdx
    CHECK64 "rip-relative-at-load-address-plus-0x200"
    mov eax, [rip_probe]                ; a RIP-relative load
    cmp eax, 0x5a5aa5a5
    CHECK64 "rip-relative-load"

    ; ---- Control registers, EFER, RFLAGS ----
    mov rax, cr0
    mov edx, eax
    and edx, 0x80000001
    cmp edx, 0x80000001
    CHECK64 "cr0-pg-pe"
    mov rax, cr4
    test eax, 1 << 5
    setz dl
    test dl, dl                         ; ZF=1 when PAE is set
    CHECK64 "cr4-pae"
    mov ecx, 0xc0000080
    rdmsr
    mov edx, eax
    and edx, 0x500
    cmp edx, 0x500
    CHECK64 "efer-lme-lma"
    mov rax, [boot_rflags]
    test eax, 1 << 9
    CHECK64 "rflags-if-clear"

    ; ---- The page tables at CR3: an identity map ----
    mov rax, cr3
    lea rsi, [msg_cr3]
    call puts64
    call hex64
    call newline64
    mov rbx, 0
    call walk
    CHECK64 "paging-identity-maps-0"
    mov rbx, 0xb8123
    call walk
    CHECK64 "paging-identity-maps-0xb8123"
    mov rbx, KERNEL_BASE + 0x200
    call walk
    CHECK64 "paging-identity-maps-the-kernel"
    mov rbx, [boot_rsi]
    call walk
    CHECK64 "paging-identity-maps-boot-params"
    mov rbx, 0xc0000000
    call walk
    CHECK64 "paging-identity-maps-3-gib"
    mov rbx, 0xfee00030
    call walk
    CHECK64 "paging-identity-maps-the-local-apic"
    mov rbx, 0xffffffff
    call walk
    CHECK64 "paging-identity-maps-up-to-4-gib"

    ; ---- boot_params at RSI ----
    mov rbx, [boot_rsi]
    mov eax, [rbx + 0x202]
    cmp eax, "HdrS"
    CHECK64 "rsi-boot-params-hdrs-at-0x202"
    movzx eax, word [rbx + BP_HDR_VERSION]
    cmp eax, PROTOCOL
    CHECK64 "boot-params-header-version"
    movzx eax, word [rbx + BP_XLOADFLAGS]
    cmp eax, XLF_KERNEL_64
    CHECK64 "boot-params-xloadflags-kernel-64"
    movzx eax, byte [rbx + BP_TYPE_OF_LOADER]
    test eax, eax
    setz dl
    test dl, dl
    CHECK64 "boot-params-type-of-loader-set"

    ; The command line.
    lea rsi, [msg_cmdline]
    call puts64
    mov esi, [rbx + BP_CMD_LINE_PTR]
    call puts64
    call newline64
    mov esi, [rbx + BP_CMD_LINE_PTR]
    lea rdi, [append]
.cmp:
    mov al, [rsi]
    cmp al, [rdi]
    jne .cmp_done
    inc rsi
    inc rdi
    test al, al
    jnz .cmp
    mov eax, [rbx + BP_EXT_CMD_LINE_PTR]
    test eax, eax
.cmp_done:
    mov eax, [rbx + BP_CMD_LINE_PTR]
    CHECK64 "cmdline-equals-append"

    ; The memory map.
    movzx ecx, byte [rbx + BP_E820_ENTRIES]
    lea rsi, [msg_e820]
    call puts64
    mov eax, ecx
    call hex64
    call newline64
    test ecx, ecx
    setz dl
    test dl, dl
    mov eax, ecx
    CHECK64 "e820-entries-nonzero"
    lea rsi, [rbx + BP_E820_TABLE]
    mov rax, [rsi]
    test rax, rax
    jnz .first
    cmp qword [rsi + 8], 0
    je .first_bad
    cmp dword [rsi + 16], E820_RAM
    jmp .first
.first_bad:
    cmp rsi, 0                          ; ZF=0
.first:
    mov eax, [rsi + 16]
    CHECK64 "e820-first-entry-ram-at-0"
    ; Some RAM entry holds [KERNEL_BASE, KERNEL_BASE + INIT_SIZE).
    xor eax, eax                        ; found
    jecxz .map_done
.map:
    cmp dword [rsi + 16], E820_RAM
    jne .map_next
    mov rdx, [rsi]
    cmp rdx, KERNEL_BASE
    ja .map_next
    add rdx, [rsi + 8]
    cmp rdx, KERNEL_BASE + INIT_SIZE
    jb .map_next
    mov eax, 1
.map_next:
    add rsi, 20
    loop .map
.map_done:
    cmp eax, 1
    CHECK64 "e820-ram-holds-the-kernel-init-size"

    ; The initrd.
    mov eax, [rbx + BP_RAMDISK_IMAGE]
    lea rsi, [msg_ramdisk]
    call puts64
    call hex64
    lea rsi, [msg_size]
    call puts64
    mov eax, [rbx + BP_RAMDISK_SIZE]
    call hex64
    call newline64
    mov eax, [rbx + BP_EXT_RAMDISK_IMAGE]
    or eax, [rbx + BP_EXT_RAMDISK_SIZE]
    CHECK64 "ramdisk-below-4gib"
    mov eax, [rbx + BP_RAMDISK_SIZE]
    cmp eax, INITRD_SIZE
    CHECK64 "ramdisk-size"
    mov eax, [rbx + BP_RAMDISK_IMAGE]
    test eax, 0xfff
    CHECK64 "ramdisk-page-aligned"
    cmp eax, STACK_TOP
    sbb edx, edx                        ; -1 when below the kernel's init_size end
    test edx, edx
    CHECK64 "ramdisk-past-the-kernel"
    mov esi, [rbx + BP_RAMDISK_IMAGE]
    mov ecx, INITRD_SIZE
    mov eax, 0x811c9dc5
.fnv:
    movzx edx, byte [rsi]
    xor eax, edx
    imul eax, eax, 0x01000193
    inc rsi
    loop .fnv
    lea rsi, [msg_fnv]
    call puts64
    call hex64
    call newline64
    cmp eax, INITRD_FNV
    CHECK64 "initrd-fnv1a-as-built"

    cmp dword [failures], 0
    je .passed
    XENO_EXIT 1
.passed:
    lea rsi, [msg_passed]
    call puts64
    XENO_EXIT 0

; walk: RBX a virtual address; translates it through the 4-level tables at CR3
; (read through the identity map they make). ZF=1 when it is present and maps
; to itself; RAX = the physical address (or the failing entry).
walk:
    push rcx
    push rdx
    mov rdx, cr3
    and rdx, ~0xfff                     ; PML4
    mov rcx, rbx
    shr rcx, 39
    and ecx, 511
    mov rax, [rdx + rcx * 8]
    test al, 1
    jz .bad
    mov rdx, 0x000ffffffffff000
    and rdx, rax                        ; PDPT
    mov rcx, rbx
    shr rcx, 30
    and ecx, 511
    mov rax, [rdx + rcx * 8]
    test al, 1
    jz .bad
    test al, 0x80                       ; a 1 GiB page
    jnz .gib
    mov rdx, 0x000ffffffffff000
    and rdx, rax                        ; PD
    mov rcx, rbx
    shr rcx, 21
    and ecx, 511
    mov rax, [rdx + rcx * 8]
    test al, 1
    jz .bad
    test al, 0x80                       ; a 2 MiB page
    jnz .mib
    mov rdx, 0x000ffffffffff000
    and rdx, rax                        ; PT
    mov rcx, rbx
    shr rcx, 12
    and ecx, 511
    mov rax, [rdx + rcx * 8]
    test al, 1
    jz .bad
    mov rdx, 0x000ffffffffff000
    and rax, rdx
    mov rdx, rbx
    and edx, 0xfff
    jmp .done
.gib:
    mov rdx, 0x000fffffc0000000
    and rax, rdx
    mov rdx, rbx
    and edx, 0x3fffffff
    jmp .done
.mib:
    mov rdx, 0x000fffffffe00000
    and rax, rdx
    mov rdx, rbx
    and edx, 0x1fffff
.done:
    or rax, rdx
    cmp rax, rbx
    pop rdx
    pop rcx
    ret
.bad:
    cmp rsp, 0                          ; ZF=0
    pop rdx
    pop rcx
    ret

; check_pass64 / check_fail64: RDI the check's name; the failure prints EAX.
; Every register and the flags are preserved.
check_pass64:
    pushfq
    push rsi
    lea rsi, [msg_ok]
    call puts64
    mov rsi, rdi
    call puts64
    call newline64
    pop rsi
    popfq
    ret
check_fail64:
    pushfq
    push rsi
    inc dword [failures]
    lea rsi, [msg_fail]
    call puts64
    mov rsi, rdi
    call puts64
    lea rsi, [msg_got]
    call puts64
    call hex64
    call newline64
    pop rsi
    popfq
    ret

; putc64: AL to COM1. puts64: RSI a NUL-terminated string. hex64: EAX as 8
; hex digits. newline64. All preserve the registers.
putc64:
    push rdx
    push rax
    mov dx, XENO_UART_LSR
.wait:
    in al, dx
    test al, XENO_LSR_THRE
    jz .wait
    pop rax
    mov dx, XENO_UART_THR
    out dx, al
    pop rdx
    ret
puts64:
    push rsi
    push rax
.next:
    mov al, [rsi]
    test al, al
    jz .done
    call putc64
    inc rsi
    jmp .next
.done:
    pop rax
    pop rsi
    ret
hex64:
    push rax
    push rcx
    push rdx
    mov edx, eax
    mov ecx, 8
.digit:
    rol edx, 4
    mov eax, edx
    and eax, 0xf
    add eax, '0'
    cmp eax, '9'
    jbe .put
    add eax, 'a' - '0' - 10
.put:
    call putc64
    loop .digit
    pop rdx
    pop rcx
    pop rax
    ret
newline64:
    push rax
    mov al, 10
    call putc64
    pop rax
    ret

    default abs
    bits 32
    XENO_PRINT32_ROUTINES               ; for entry32

rip_probe:      dd 0x5a5aa5a5
append:         db "console=ttyS0 xeno.boot=linux64 initrd=initrd.bin", 0  ; scenario.toml: append
msg_entered32:  db "FAIL entered-32-bit", 10, 0
msg_entered:    db "boot-linux64: entered the 64-bit entry with rsi=", 0
msg_cr3:        db "cr3: ", 0
msg_cmdline:    db "command line: ", 0
msg_e820:       db "e820 entries: ", 0
msg_ramdisk:    db "ramdisk: ", 0
msg_size:       db " size ", 0
msg_fnv:        db "initrd fnv1a: ", 0
msg_ok:         db "ok ", 0
msg_fail:       db "FAIL ", 0
msg_got:        db " got=", 0
msg_passed:     db "boot-linux64: all checks passed", 10, 0
; The "compressed kernel" boot.rst's payload_offset/payload_length describe:
; an uncompressed ELF in name only (the builder does not read it for this
; entry; the PVH path would), its last 4 bytes the "decompressed size".
    align 4
payload:        db 0x7f, "ELF"
                dd 0
payload_end:
    align 16
boot_rsi:       dq 0
boot_rflags:    dq 0
boot_gdtr:      dq 0, 0                 ; SGDT's 10 bytes
failures:       dd 0
    align 16
kernel_end:

syssize equ (kernel_end - kernel_start) / 16
