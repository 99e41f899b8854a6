; uart_flood: a guest that never stops writing the UART's transmit register,
; without ever waiting for THRE: the hypervisor must neither buffer without
; bound nor stall. It never ends on its own; the run's instruction limit
; stops it.
%include "adv.inc"
    ADV_PM32 main
main:
    mov dx, XENO_UART_THR
    mov al, 'A'
.again:
    out dx, al
    inc al
    and al, 0x3f
    or al, 0x40
    jmp .again
    ADV_ROUTINES
