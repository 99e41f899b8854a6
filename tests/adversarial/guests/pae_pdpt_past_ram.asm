; pae_pdpt_past_ram: 32-bit PAE paging whose PDPT is past the end of RAM
; (16 MiB) or in the unclaimed space below 4 GiB. Loading the PDPTE
; registers reads nothing there: the bus answers all ones, which has
; reserved bits, so MOV CR3 is #GP(0) with CR3 unchanged, and turning CR0.PG
; on with such a CR3 is #GP(0) with paging still off (SDM Vol. 3A 4.4.1).
; Under EPT the load is a guest-physical read that EPT does not map (an EPT
; violation without a linear address, Table 28-7); under shadow paging the
; hypervisor's MOV CR3 exit reads it. Both must give the guest its #GP.
; Status 0 when all held.
%include "adv.inc"
PDPT_G   equ 0x20000
PD0      equ 0x21000
    ADV_PM32 main
main:
    PAE_TABLES PDPT_G, PD0 + 0x1000, PD0
    mov dword [PDPT_G], PD0 | 1
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    ; Paging off: CR3 may hold anything (no load), and CR0.PG then loads it.
    mov eax, 0x1000000
    TRY_OK 1, mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    TRY_GP 2, mov cr0, eax
    mov eax, cr0
    test eax, CR0_PG
    FAIL_IF nz, 3
    mov eax, 0xf0000000                   ; below 4 GiB, no RAM, no device
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    TRY_GP 4, mov cr0, eax
    mov eax, cr0
    test eax, CR0_PG
    FAIL_IF nz, 11
    ; Paging on with a good PDPT; then MOV CR3 past RAM and in the
    ; unclaimed space: #GP, CR3 unchanged. A PDPT in RAM's last 32 bytes
    ; loads.
    mov eax, PDPT_G
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    mov eax, 0x1000000
    TRY_GP 5, mov cr3, eax
    CR3_IS PDPT_G, 10
    mov edi, 0xffffe0                     ; PDPTE0 -> PD0, PDPTEs 1-3 not present
    mov ecx, 8
    xor eax, eax
    rep stosd
    mov dword [0xffffe0], PD0 | 1
    mov eax, 0xffffe0
    TRY_OK 6, mov cr3, eax
    mov eax, 0xf0000000
    TRY_GP 7, mov cr3, eax
    CR3_IS 0xffffe0, 8
    mov eax, PDPT_G
    mov cr3, eax
    ; Still running on the good tables.
    mov dword [0x100010], 0x5a5a1234
    cmp dword [0x100010], 0x5a5a1234
    FAIL_IF ne, 9
    XENO_EXIT 0

    ADV_ROUTINES
