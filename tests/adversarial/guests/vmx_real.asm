; vmx_real: every VMX instruction and VMFUNC in real mode (on penryn the
; hypervisor runs real mode in virtual-8086 mode and reflects the #UD
; through the guest's IVT). Each must raise #UD (vmx_insns.inc), and so
; must VMCALL: no hypercalls from real mode (docs/xen-abi.md). Status 0 when
; all did, else 1 + the index of the first that did not.
%include "adv.inc"
%include "vmx_insns.inc"
    org 0x8000
    bits 16
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, ADV_STACK
    mov word [6 * 4], rm_ud
    mov word [6 * 4 + 2], 0
    VMX_INSNS_UD 1, eax
    mov eax, 17                 ; __HYPERVISOR_xen_version
    xor ebx, ebx
    TRY_UD 13, vmcall
    XENO_EXIT 0
rm_ud:
    mov dword [adv_vec], 6
    add sp, 6                   ; the IVT frame: IP, CS, FLAGS
    jmp word [adv_resume]
    VMX_SCRATCH
    ADV_ROUTINES
