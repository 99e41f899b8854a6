; exec_past_ram: a jump to 256 MiB, far past the guest's 16 MiB of RAM and
; below the MMIO hole: nothing is there to fetch. The hypervisor must end
; the domain (crash), not loop on the fetch or fail itself.
%include "adv.inc"
    ADV_PM32 main
main:
    mov eax, 0x10000000
    jmp eax
    ADV_ROUTINES
