; io_ports_read: IN of a byte, a word and a dword from every I/O port,
; 0 to 0xffff, in 32-bit protected mode with interrupts off. Ports nobody
; decodes read all ones (the PC's floating bus); whatever a device answers,
; the read completes without a fault. Ends with status 0.
%include "adv.inc"
    ADV_PM32 main
main:
    EXPECT faulted
    xor edx, edx
.port:
    in al, dx
    in ax, dx
    in eax, dx
    inc dx
    jnz .port
    ; An undecoded port reads all ones, in every width (0xe0 is free on a PC).
    mov dx, 0xe0
    in eax, dx
    cmp eax, 0xffffffff
    FAIL_IF ne, 2
    NO_FAULT 1
    XENO_EXIT 0
faulted:
    XENO_EXIT 1
    ADV_ROUTINES
