; idt_past_ram: an IDT at 48 MiB (past RAM), paging off, then INT3: the
; gate is read from nowhere. Ends the domain (the event cannot be delivered).
%include "adv.inc"
    ADV_PM32 main
main:
    lidt [bad_idt]
    int3
    XENO_EXIT 1
bad_idt:
    dw 0x7ff
    dd 0x3000000
    ADV_ROUTINES
