; The BSP sends INIT to itself: a reset, which a domain does not have; the
; run ends as `reset`, the instruction after the ICR write never runs.
%include "xeno.inc"
    org 0x8000
start:
    XENO_ENTER_PM32 pm, 0x7000
    bits 32
pm:
    mov dword [0xfee000f0], 0x1ff
    mov dword [0xfee00310], 0           ; APIC ID 0: itself
    mov dword [0xfee00300], 0x4500      ; INIT, assert
    XENO_EXIT 9                         ; never reached
    XENO_FLAT_GDT
