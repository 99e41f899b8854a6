; vmx_ring3: every VMX instruction and VMFUNC from ring 3 (32-bit protected
; mode, CPL 3 through an IRET to a DPL-3 code segment): #UD as at CPL 0 (the
; #UD check comes before the CPL check; SDM Vol. 3C 31.3), then VMCALL from
; ring 3, which Xen refuses: EAX = -EPERM (-1) without running the
; hypercall. Status 0 when all held.
%include "adv.inc"
%include "vmx_insns.inc"
    ADV_PM32 main
main:
    call adv_tss_setup
    mov ecx, 0x80
    mov eax, ring0_report
    call adv_set_gate32
    push ADV_UDATA32            ; SS
    push ADV_STACK - 0x800      ; ESP
    push 0x002                  ; EFLAGS: IF = 0 (IOPL 0)
    push ADV_USER32             ; CS
    push ring3
    iret
ring3:
    mov ax, ADV_UDATA32
    mov ds, ax
    mov es, ax
    VMX_INSNS_UD 1, eax
    mov eax, 17                 ; __HYPERVISOR_xen_version
    xor ebx, ebx                ; XENVER_version
    vmcall
    cmp eax, -1                 ; -EPERM: hypercalls are for ring 0
    FAIL_IF ne, 13
    ; The debug exit port is not reachable from ring 3 with IOPL 0 (OUT
    ; would be #GP): back to ring 0 through INT 0x80 to report.
    int 0x80
    XENO_EXIT 15
ring0_report:
    XENO_EXIT 0
    VMX_SCRATCH
    ADV_ROUTINES
