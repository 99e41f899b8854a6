; cr3_past_ram: 64-bit mode, then MOV CR3 with a PML4 past the end of RAM
; (32 MiB): the very next instruction fetch walks tables that read as all
; ones (reserved bits), and so does the delivery of the page fault and of
; the double fault. The domain ends (crash), never running the bus as tables.
%include "adv.inc"
    ADV_LONG main
main:
    mov eax, 0x2000000
    mov cr3, rax
    XENO_EXIT 1
    ADV_ROUTINES
