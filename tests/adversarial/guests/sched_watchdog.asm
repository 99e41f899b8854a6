; sched_watchdog: SCHEDOP_watchdog misuse, then a watchdog that expires:
; arming gives ids 1 and 2, a third is -ENOSPC, re-arming id 5 is -EINVAL,
; id 2 is removed (timeout 0); then the guest idles with interrupts on and
; never pets watchdog 1 (1 s). The hypervisor must end the domain when it
; expires (crash, "xen watchdog expired"), not before, not never.
%include "adv.inc"
%include "adv_xen.inc"
SCHEDOP_WATCHDOG equ 6
ARG equ 0x20000
    ADV_PM32 main
main:
    mov dword [ARG], 0
    mov dword [ARG + 4], 1                ; 1 s
    HC HC_SCHED_OP, SCHEDOP_WATCHDOG, ARG
    EXPECT_EAX 1, 2
    mov dword [ARG + 4], 30
    HC HC_SCHED_OP, SCHEDOP_WATCHDOG, ARG
    EXPECT_EAX 2, 3
    HC HC_SCHED_OP, SCHEDOP_WATCHDOG, ARG
    EXPECT_EAX -ENOSPC, 4
    mov dword [ARG], 5
    HC HC_SCHED_OP, SCHEDOP_WATCHDOG, ARG
    EXPECT_EAX -EINVAL, 5
    mov dword [ARG], 2
    mov dword [ARG + 4], 0                ; remove watchdog 2
    HC HC_SCHED_OP, SCHEDOP_WATCHDOG, ARG
    EXPECT_EAX 0, 6
    HC HC_SCHED_OP, SCHEDOP_WATCHDOG, 0xfee00000
    EXPECT_EAX -EFAULT, 7
.idle:
    sti
    hlt
    jmp .idle
    ADV_ROUTINES
