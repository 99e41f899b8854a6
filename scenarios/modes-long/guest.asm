; modes-long: the paging half of the mode tour, checked by the guest (one
; line per check, "ok <name>" or "FAIL <name> got=<value>", exit status 0
; only if every check passed):
;
;   real mode -> 32-bit protected mode
;   PAE paging (CR4.PAE, a 4-entry PDPT, 2 MiB pages): an alias mapping of
;     1 GiB -> 4 MiB, written through the alias and read back identity-mapped
;   paging off, EFER.LME, paging on: IA-32e mode (EFER.LMA), a far jump into
;     a 64-bit code segment: 64-bit registers, RIP-relative addressing, the
;     alias through 4-level tables, 8-byte pushes
;   a far return to a 32-bit code segment: compatibility mode (LMA still set,
;     4-byte pushes), where the 32-bit check routines report
;   out again: paging off in compatibility mode (LMA clears), EFER.LME off,
;     CR4.PAE off, 16-bit protected mode, real mode, INT n through the IVT.
;
; The first half (real, 16/32-bit protected, big real mode, stale caches,
; IDT and rings) is scenarios/modes. On penryn (no EPT) the paging runs on the
; hypervisor's shadow page tables, on skylake on EPT.
%include "xeno.inc"
%include "xeno_check.inc"

CODE32    equ 0x08
DATA32    equ 0x10
CODE64    equ 0x18
CODE16    equ 0x20
DATA16    equ 0x28

RM_STACK  equ 0x7000
PDPT_PAE  equ 0x20000       ; 32-byte aligned, 4 entries
PD0       equ 0x21000       ; 0..1 GiB identity, 2 MiB pages
PD1       equ 0x22000       ; 1 GiB..: entry 0 -> 4 MiB (the alias)
PML4      equ 0x23000
PDPT64    equ 0x24000
ALIAS     equ 0x40000000
ALIAS_PHYS equ 0x400000

IA32_EFER equ 0xc0000080
EFER_LME  equ 1 << 8
EFER_LMA  equ 1 << 10
CR0_PG    equ 1 << 31
CR4_PAE   equ 1 << 5

    org 0x8000
    bits 16
start:
    XENO_REAL_MODE_START RM_STACK
    mov word [0x80 * 4], int80_handler
    mov word [0x80 * 4 + 2], 0
    XENO_ENTER_PM32 pm32, RM_STACK

    bits 32
pm32:
    lgdt [gdt_desc]
    jmp CODE32:.reload
.reload:
    ; Page tables: PD0 identity-maps 1 GiB with 2 MiB pages, PD1 maps its
    ; first 2 MiB at 4 MiB (SDM 3A 4.4, 4.5: the PDE formats are shared).
    mov edi, PDPT_PAE
    mov ecx, (PDPT64 + 0x1000 - PDPT_PAE) / 4
    xor eax, eax
    cld
    rep stosd
    mov edi, PD0
    mov eax, 0x83               ; present, writable, PS
    mov ecx, 512
.pd0:
    mov [edi], eax
    add eax, 0x200000
    add edi, 8
    loop .pd0
    mov dword [PD1], ALIAS_PHYS | 0x83
    mov dword [PDPT_PAE], PD0 | 1          ; PAE PDPTEs: present only
    mov dword [PDPT_PAE + 8], PD1 | 1
    mov dword [PML4], PDPT64 | 3
    mov dword [PDPT64], PD0 | 3
    mov dword [PDPT64 + 8], PD1 | 3

; ---- PAE paging ------------------------------------------------------------------
    mov dword [ALIAS_PHYS + 0x10], 0
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, PDPT_PAE
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    mov dword [ALIAS + 0x10], 0xa11a5e01   ; through the alias
    mov eax, [ALIAS_PHYS + 0x10]           ; identity
    cmp eax, 0xa11a5e01
    CHECK32 "pae-alias-write"
    mov eax, cr0
    and eax, CR0_PG
    cmp eax, CR0_PG
    CHECK32 "pae-paging-on"
    mov ecx, IA32_EFER
    rdmsr
    and eax, EFER_LMA
    CHECK32 "pae-not-long-mode"
    mov eax, cr0
    and eax, ~CR0_PG
    mov cr0, eax

; ---- IA-32e mode ---------------------------------------------------------------------
    mov eax, PML4
    mov cr3, eax
    mov ecx, IA32_EFER
    rdmsr
    or eax, EFER_LME
    wrmsr
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax                ; IA-32e mode, still 32-bit code: compatibility mode
    mov ecx, IA32_EFER
    rdmsr
    and eax, EFER_LMA
    cmp eax, EFER_LMA
    CHECK32 "efer-lma-set"
    jmp CODE64:long64

    bits 64
long64:
    mov rax, 0x123456789abcdef0
    rol rax, 16
    mov [rel r64_rol], rax
    mov rbx, rsp
    push rax
    sub rbx, rsp
    pop rax
    mov [rel r64_push], rbx
    mov rax, 0x0badc0de600df00d
    mov [ALIAS + 0x20], rax
    mov rax, [ALIAS_PHYS + 0x20]
    mov [rel r64_alias], rax
    mov ax, cs
    mov [rel r64_cs], ax
    ; To compatibility mode: a far return to the 32-bit code segment.
    push CODE32
    push compat
    o64 retf

    bits 32
compat:
    mov eax, [r64_rol]
    cmp eax, 0xdef01234
    CHECK32 "long64-rol-low"
    mov eax, [r64_rol + 4]
    cmp eax, 0x56789abc
    CHECK32 "long64-rol-high"
    mov eax, [r64_push]
    cmp eax, 8
    CHECK32 "long64-push-8-bytes"
    mov eax, [r64_alias + 4]
    cmp eax, 0x0badc0de
    CHECK32 "long64-alias-4-level"
    movzx eax, word [r64_cs]
    cmp eax, CODE64
    CHECK32 "long64-cs"
    mov ebx, esp
    push eax
    sub ebx, esp
    pop eax
    mov eax, ebx
    cmp eax, 4
    CHECK32 "compat-push-4-bytes"
    mov ecx, IA32_EFER
    rdmsr
    and eax, EFER_LMA
    cmp eax, EFER_LMA
    CHECK32 "compat-lma-still-set"

; ---- out of IA-32e mode and paging, back to real mode -----------------------------
    mov eax, cr0
    and eax, ~CR0_PG
    mov cr0, eax                ; leaves IA-32e mode (SDM 3A 10.8.5.4)
    mov ecx, IA32_EFER
    rdmsr
    and eax, ~EFER_LME
    wrmsr
    rdmsr
    and eax, EFER_LMA | EFER_LME
    CHECK32 "long-mode-off"
    mov eax, cr4
    and eax, ~CR4_PAE
    mov cr4, eax
    mov eax, [ALIAS_PHYS + 0x10]
    cmp eax, 0xa11a5e01
    CHECK32 "paging-off-identity"
    jmp CODE16:pm16_back

    bits 16
pm16_back:
    mov ax, DATA16
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:rm_back
rm_back:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, RM_STACK
    lidt [rm_idt_desc]
    mov ax, 0x1234
    int 0x80
    cmp ax, 0x2345
    CHECK16 "back-to-real-mode-int-n"

    mov eax, [failures]
    test eax, eax
    jnz .failed
    mov si, msg_all_passed
    call xeno_puts16
    XENO_EXIT 0
.failed:
    XENO_EXIT al

int80_handler:
    add ax, 0x1111
    iret

    XENO_PRINT16_ROUTINES
    XENO_PRINT32_ROUTINES
    CHECK_ROUTINES

    ; The code descriptors start with the accessed bit clear (type 0xa): the
    ; far jumps that load them must set it (SDM 3A 3.4.5.1), or the next full
    ; VM-entry check (after the WRMSR of EFER) fails "CS type" (SDM 3C 26.3.1.2).
    align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08: 32-bit code
    dq 0x00cf92000000ffff       ; 0x10: data, 4 GiB
    dq 0x00af9a000000ffff       ; 0x18: 64-bit code (L=1, D=0)
    dq 0x00009a000000ffff       ; 0x20: 16-bit code
    dq 0x000092000000ffff       ; 0x28: 16-bit data
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
rm_idt_desc:
    dw 0x3ff
    dd 0
    XENO_FLAT_GDT

    align 8
r64_rol:   dq 0
r64_push:  dq 0
r64_alias: dq 0
r64_cs:    dw 0

msg_all_passed: db "modes-long: all checks passed", 10, 0
