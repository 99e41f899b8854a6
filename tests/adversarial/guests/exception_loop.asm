; exception_loop: a #GP handler that returns to the instruction that faulted
; (a WRMSR to a nonexistent MSR) forever: an endless exception loop that is
; not a triple fault. It never ends on its own; the run's instruction
; limit stops it, and the hypervisor survives the exits.
%include "adv.inc"
    ADV_PM32 main
main:
    mov ecx, 13
    mov eax, gp_again
    call adv_set_gate32
    mov ecx, 0xdeadbeef         ; no such MSR
again:
    wrmsr
    XENO_EXIT 1
gp_again:
    add esp, 4                  ; the error code; IRET to the WRMSR again
    iret
    ADV_ROUTINES
