; sched_block_forever: SCHEDOP_block with interrupts off, no event channel
; bound and no timer: nothing can ever wake the vcpu. The domain ends as
; halted (the hypervisor sees that nothing can wake it) instead of hanging.
%include "adv.inc"
%include "adv_xen.inc"
    ADV_PM32 main
main:
    HC HC_SCHED_OP, 1, 0                  ; SCHEDOP_block
    XENO_EXIT 1
    ADV_ROUTINES
