; triple_fault_paged: 64-bit mode, RSP in a linear page that is not mapped,
; then INT3: the frame push page-faults, the #PF's push faults again (#DF),
; and so does the #DF's: a triple fault, which ends the domain.
%include "adv.inc"
    ADV_LONG main
main:
    mov qword [ADV_PDPT + 8 * 3], 0     ; 3-4 GiB unmapped
    mov rax, cr3
    mov cr3, rax
    mov rsp, 0xc0001000
    int3
    XENO_EXIT 1
    ADV_ROUTINES
