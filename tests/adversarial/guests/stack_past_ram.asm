; stack_past_ram: ESP 32 MiB (past the guest's 16 MiB of RAM), paging off,
; then INT3: the processor must push the exception frame where nothing is.
; The hypervisor ends the domain (the delivery cannot complete) rather than
; drop the frame and return the guest to garbage, or fail itself.
%include "adv.inc"
    ADV_PM32 main
main:
    mov esp, 0x2000000
    int3
    XENO_EXIT 1
    ADV_ROUTINES
