; pt_reserved_bits: 64-bit paging entries with reserved bits (SDM 4.5,
; Tables 4-14 to 4-19): PS in a PML4E, bits 20:13 of a 2 MiB PDE, XD with
; EFER.NXE clear; each access is a page fault with P | RSVD (| W). Then
; EFER.NXE on: a fetch from an XD page is #PF with P | I/D, a write to a
; read-only page with CR0.WP set is #PF with P | W. Status 0 when all held.
%include "adv.inc"
PDPT_X   equ 0x200000
PD_X     equ 0x201000
    ADV_LONG main
main:
    mov rdi, PDPT_X
    mov ecx, 1024
    xor eax, eax
    rep stosq
    mov rax, PDPT_X | 0x83                ; PML4[1] with PS: reserved
    mov [ADV_PML4 + 8], rax
    mov rax, PD_X | 3
    mov [ADV_PDPT + 4 * 8], rax           ; 4 GiB: PD_X
    mov rax, 0x400000 | 0x83 | (1 << 13)  ; PD_X[0]: a 2 MiB page with bit 13
    mov [PD_X], rax
    mov rax, 0x400000 | 0x83
    bts rax, 63                           ; PD_X[1]: XD, NXE still clear
    mov [PD_X + 8], rax
    mov rax, 0x400000 | 0x81              ; PD_X[2]: read-only
    mov [PD_X + 16], rax
    mov rax, cr3
    mov cr3, rax
    mov rsi, 0x8000000000                 ; under PML4[1]
    call rsvd
    mov rsi, 0x100000000
    call rsvd
    mov rsi, 0x100200000
    call rsvd
    ; EFER.NXE: the XD page becomes valid but not executable.
    mov ecx, IA32_EFER
    rdmsr
    or eax, 1 << 11
    wrmsr
    mov rax, cr3
    mov cr3, rax
    mov rsi, 0x100200000
    mov byte [0x400000], 0xc3             ; RET, through the identity map
    EXPECT faulted
    mov eax, [rsi]                        ; readable now
    NO_FAULT 1
    EXPECT .fetch_faulted
    call rsi
    XENO_EXIT 7
.fetch_faulted:
    FAULTED_ERR 14, 0x11, 8
    add rsp, 8                            ; the CALL's return address
    mov rax, cr0
    bts rax, 16                           ; WP
    mov cr0, rax
    mov rsi, 0x100400000
    EXPECT faulted
    mov eax, [rsi]
    NO_FAULT 1
    EXPECT .ro_faulted
    mov dword [rsi], 0
    XENO_EXIT 9
.ro_faulted:
    FAULTED_ERR 14, 0x3, 10
    XENO_EXIT 0

rsvd:
    EXPECT .read_faulted
    mov eax, [rsi]
    XENO_EXIT 2
.read_faulted:
    FAULTED_ERR 14, 0x9, 3
    EXPECT .write_faulted
    mov dword [rsi], 0
    XENO_EXIT 4
.write_faulted:
    FAULTED_ERR 14, 0xb, 5
    ret
faulted:
    XENO_EXIT 1
    ADV_ROUTINES
