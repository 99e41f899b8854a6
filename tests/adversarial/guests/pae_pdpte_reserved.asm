; pae_pdpte_reserved: 32-bit PAE paging and its four PDPTE registers (SDM
; Vol. 3A 4.4.1): MOV CR3 to a PDPT with a reserved bit set (bit 1) is
; #GP(0) with CR3 unchanged; turning
; CR0.PG on with such a CR3 is #GP(0) with paging still off. And the PDPTEs
; are registers: a PDPT entry made present in memory after the load does not
; count until CR3 is loaded again (the access through it page-faults with
; P = 0), and one with a reserved bit then makes that load #GP. Status 0
; when all held.
%include "adv.inc"
PDPT_G   equ 0x20000
PDPT_B   equ 0x20020
PD0      equ 0x21000
PD1      equ 0x22000
    ADV_PM32 main
main:
    PAE_TABLES PDPT_G, PD1 + 0x1000, PD0
    mov dword [PD1], 0x400000 | 0x83      ; 1 GiB -> 4 MiB
    mov dword [PDPT_G], PD0 | 1
    mov dword [PDPT_B], PD0 | 1
    mov dword [PDPT_B + 8], PD1 | 3       ; bit 1: reserved in a PAE PDPTE
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, PDPT_G
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    mov eax, PDPT_B
    TRY_GP 2, mov cr3, eax
    CR3_IS PDPT_G, 11
    ; The PDPTE registers: PDPT_G[1] made present now does not count yet.
    mov dword [PDPT_G + 8], PD1 | 1
    EXPECT .stale
    mov eax, [0x40000010]
    XENO_EXIT 4
.stale:
    FAULTED_ERR 14, 0, 5
    mov eax, PDPT_G
    mov cr3, eax                          ; now it does
    mov dword [0x400010], 0x5a5a1234
    EXPECT faulted
    cmp dword [0x40000010], 0x5a5a1234
    FAIL_IF ne, 6
    NO_FAULT 1
    mov dword [PDPT_G + 8], PD1 | 1 | (1 << 5)  ; bit 5: reserved
    mov eax, PDPT_G
    TRY_GP 7, mov cr3, eax
    mov dword [PDPT_G + 8], PD1 | 1
    ; Paging off, CR3 at the bad PDPT (no load while PG = 0), PG on: #GP.
    mov eax, cr0
    and eax, ~CR0_PG
    mov cr0, eax
    mov eax, PDPT_B
    TRY_OK 8, mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    TRY_GP 9, mov cr0, eax
    mov eax, cr0
    test eax, CR0_PG
    FAIL_IF nz, 10
    XENO_EXIT 0

faulted:
    XENO_EXIT 1
    ADV_ROUTINES
