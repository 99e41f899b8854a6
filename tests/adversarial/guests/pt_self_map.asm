; pt_self_map: a recursive 64-bit page table (PML4[511] points at the PML4
; itself) through which the guest edits its own live paging structures:
; it builds a new PDPT/PD/PT chain for 1 TiB by writing the PML4 entry and
; then the lower levels through the recursive window, maps a page, reads a
; marker, remaps it to another frame, INVLPGs, and must read the new
; marker; then it unmaps the page through the window and must page-fault.
; With shadow paging every one of these writes lands on a page the
; hypervisor shadows (the PML4 is its own page table). Status 0 when the
; guest saw exactly what the SDM says.
%include "adv.inc"
SELF     equ 0xfffffffffffff000       ; the PML4 through PML4[511] four times
PDPT_N   equ 0x200000
PD_N     equ 0x201000
PT_N     equ 0x202000
FRAME_A  equ 0x203000
FRAME_B  equ 0x204000
TARGET   equ 0x10000000000            ; 1 TiB: PML4[2]
; The recursive addresses (PML4[511] standing in for one level or more):
; TARGET's PDPT (PML4 index 2) at 511/511/511/2, its PD at 511/511/2/0,
; its PT at 511/2/0/0.
PDPT_VIA equ 0xffffffffffe02000
PD_VIA   equ 0xffffffffc0400000
PT_VIA   equ 0xffffff8080000000
    ADV_LONG main
main:
    mov dword [FRAME_A], 0xaaaa0001
    mov dword [FRAME_B], 0xbbbb0002
    mov rax, ADV_PML4 | 3
    mov [ADV_PML4 + 511 * 8], rax
    mov rax, cr3
    mov cr3, rax
    ; The PML4 through itself: entry 0 as the tables say.
    mov rsi, SELF
    mov rax, [rsi]
    and eax, ~0x60                        ; accessed and dirty, as the walks left them
    cmp rax, ADV_PDPT | 3
    FAIL_IF ne, 2
    ; Zero the new tables (identity), then link them through the window.
    mov rdi, PDPT_N
    mov ecx, 3 * 512
    xor eax, eax
    rep stosq
    mov rax, PDPT_N | 3
    mov [rsi + 2 * 8], rax                ; PML4[2], written through the window
    mov rdi, PDPT_VIA
    mov rax, PD_N | 3
    mov [rdi], rax                        ; PDPT_N[0], through the window
    mov rdi, PD_VIA
    mov rax, PT_N | 3
    mov [rdi], rax                        ; PD_N[0]
    mov rdi, PT_VIA
    mov rax, FRAME_A | 3
    mov [rdi], rax                        ; PT_N[0]
    ; The identity map must agree: the writes landed in the tables.
    mov rax, [PD_N]
    and eax, ~0x60
    cmp rax, PT_N | 3
    FAIL_IF ne, 7
    mov rsi, TARGET
    EXPECT faulted
    cmp dword [rsi], 0xaaaa0001
    FAIL_IF ne, 3
    mov rax, FRAME_B | 3
    mov [rdi], rax
    invlpg [rsi]
    cmp dword [rsi], 0xbbbb0002
    FAIL_IF ne, 4
    NO_FAULT 1
    mov qword [rdi], 0                    ; unmapped through the window
    invlpg [rsi]
    EXPECT .gone
    mov eax, [rsi]
    XENO_EXIT 5
.gone:
    FAULTED_ERR 14, 0, 6
    XENO_EXIT 0
faulted:
    XENO_EXIT 1
    ADV_ROUTINES
