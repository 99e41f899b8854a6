; dr_reserved: debug registers with their upper halves set in 64-bit mode:
; MOV to DR6 or DR7 with any of bits 63:32 set is #GP(0) (SDM Vol. 3B
; 17.2.4-17.2.6, MOV DR), which a hypervisor that took the value into the
; VMCS's guest DR7 would turn into a failed VM entry; DR4/DR5 with
; CR4.DE set are #UD. Then breakpoints in DR0-3 at non-canonical addresses
; and DR7 enabling all of them with every length and type: accepted, and
; the guest runs on. Status 0.
%include "adv.inc"
    ADV_LONG main
main:
    mov rax, dr7
    mov r15, rax
    mov rax, 1 << 40
    or rax, r15
    TRY_GP 2, mov dr7, rax
    mov rax, dr7
    cmp rax, r15
    FAIL_IF ne, 3
    mov rax, (1 << 63) | 0xffff0ff0
    TRY_GP 4, mov dr6, rax
    mov rax, cr4
    or eax, 1 << 3                        ; CR4.DE
    mov cr4, rax
    TRY_UD 5, mov rax, dr4
    TRY_UD 6, mov dr5, rax
    mov rax, cr4
    and eax, ~(1 << 3)
    mov cr4, rax
    mov rax, 0x8000000000000000
    mov dr0, rax
    mov rax, 0x0000800000000000
    mov dr1, rax
    mov rax, -1
    mov dr2, rax
    mov dr3, rax
    mov eax, 0xffff00ff                   ; L0-3, G0-3, every R/W and LEN
    TRY_OK 7, mov dr7, rax
    mov rax, dr7
    and eax, 0xffff00ff
    cmp eax, 0xffff00ff
    FAIL_IF ne, 8
    xor eax, eax
    mov dr7, rax
    XENO_EXIT 0
    ADV_ROUTINES
