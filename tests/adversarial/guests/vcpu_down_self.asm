; vcpu_down_self: the only vcpu takes itself offline (VCPUOP_down on vcpu
; 0): no vcpu is left that could bring it back up. The domain must end (as
; halted, nothing can wake it) instead of idling forever.
%include "adv.inc"
%include "adv_xen.inc"
    ADV_PM32 main
main:
    HC HC_VCPU_OP, 2, 0, 0                ; VCPUOP_down, vcpu 0
    XENO_EXIT 1
    ADV_ROUTINES
