; msr_noncanonical_real: the same non-canonical MSR writes from real mode
; (FS_BASE, GS_BASE, KERNEL_GS_BASE, LSTAR, CSTAR, SYSENTER_ESP,
; SYSENTER_EIP: #GP(0) in every mode, SDM Vol. 2B WRMSR), where on penryn
; the hypervisor runs the guest in virtual-8086 mode and its instruction
; emulator executes the WRMSR. A value taken unchecked into the VMCS would
; fail a later VM entry. Then to 32-bit protected mode and 64-bit mode,
; where each MSR still reads as before. Status 0 when all held.
%include "adv.inc"
    org 0x8000
    bits 16
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, ADV_STACK
    mov word [13 * 4], rm_gp
    mov word [13 * 4 + 2], 0
    mov si, msrs
.msr:
    mov ecx, [si]
    mov eax, 0
    mov edx, 0x00008000                   ; 0x0000800000000000: not canonical
    mov dword [adv_vec], 0xff
    mov word [rm_resume], .after
    wrmsr
    XENO_EXIT 2
.after:
    cmp dword [adv_vec], 13
    FAIL_IF ne, 2
    add si, 4
    cmp si, msrs_end
    jb .msr
    jmp 0:long_part
rm_gp:
    mov dword [adv_vec], 13
    add sp, 6
    jmp word [rm_resume]
rm_resume: dw 0
    align 4
msrs: dd 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000082, 0xc0000083, 0x175, 0x176
msrs_end:

long_part:
    ADV_LONG main
main:
    mov rsi, msrs
.check:
    mov ecx, [rsi]
    TRY_OK 3, rdmsr
    cmp edx, 0x00008000
    FAIL_IF e, 4
    add rsi, 4
    cmp rsi, msrs_end
    jb .check
    XENO_EXIT 0
    ADV_ROUTINES
