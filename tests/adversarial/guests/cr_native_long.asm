; cr_native_long: the #GP(0) checks a processor makes itself on MOV to CR0
; and CR4 in 64-bit mode when the hypervisor's guest/host masks let the
; write through without a VM exit (SDM Vol. 3A 2.5, MOV CR): CR0 bits 63:32,
; NW=1 with CD=0, PG cleared in 64-bit mode, PE cleared with PG set; CR4
; bits 63:32. After each the register reads as before. Status 0 when all held.
%include "adv.inc"
    ADV_LONG main
main:
    mov r15, cr0                ; the CR0 every refused write must leave
    mov rax, r15
    bts rax, 32
    TRY_GP 1, mov cr0, rax
    call same_cr0
    mov rax, r15
    bts rax, 63
    TRY_GP 17, mov cr0, rax
    call same_cr0
    mov rax, r15
    and eax, ~(1 << 30)         ; CD = 0
    or eax, 1 << 29             ; NW = 1
    TRY_GP 2, mov cr0, rax
    call same_cr0
    mov rax, r15
    btr rax, 31                 ; PG off in 64-bit mode
    TRY_GP 3, mov cr0, rax
    call same_cr0
    mov rax, r15
    btr rax, 0                  ; PE off with PG on
    TRY_GP 4, mov cr0, rax
    call same_cr0

    mov r14, cr4
    mov rax, r14
    bts rax, 32
    TRY_GP 5, mov cr4, rax
    mov rax, r14
    bts rax, 63
    TRY_GP 6, mov cr4, rax
    mov rax, cr4
    cmp rax, r14
    FAIL_IF ne, 21
    XENO_EXIT 0

same_cr0:
    mov rax, cr0
    cmp rax, r15
    FAIL_IF ne, 20
    ret
    ADV_ROUTINES
