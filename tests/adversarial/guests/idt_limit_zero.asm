; idt_limit_zero: an IDT whose limit is 0, then INT3: the gate is outside
; the IDT (#GP), so is #GP's (#DF), so is #DF's: a triple fault (SDM Vol.
; 3A 6.15, Table 6-5), which ends the domain with the triple fault's reason.
%include "adv.inc"
    ADV_PM32 main
main:
    lidt [empty_idt]
    int3
    XENO_EXIT 1
empty_idt:
    dw 0
    dd ADV_IDT
    ADV_ROUTINES
