; msr_scan: RDMSR of every MSR index in 0-0x1fff, 0xc0000000-0xc0001fff and
; 0x40000000-0x400000ff, and for each that reads, a WRMSR of the value it
; read. A #GP is a fine answer to either (MSRs that do not exist, read-only
; or write-only ones, locked ones); anything else is not, and the guest must
; still be running afterwards. Status 0.
%include "adv.inc"
    ADV_PM32 main
main:
    mov esi, ranges
.range:
    mov ecx, [esi]
.msr:
    EXPECT .read_done
    rdmsr
    mov dword [adv_vec], 0xff
.read_done:
    cmp dword [adv_vec], 0xff
    je .write
    cmp dword [adv_vec], 13
    FAIL_IF ne, 2
    jmp .next
.write:
    EXPECT .write_done
    wrmsr
.write_done:
    mov dword [adv_resume], 0
    cmp dword [adv_vec], 0xff
    je .next
    cmp dword [adv_vec], 13
    FAIL_IF ne, 3
.next:
    inc ecx
    cmp ecx, [esi + 4]
    jb .msr
    add esi, 8
    cmp esi, ranges_end
    jb .range
    XENO_EXIT 0
    align 4
ranges:
    dd 0, 0x2000
    dd 0xc0000000, 0xc0002000
    dd 0x40000000, 0x40000100
ranges_end:
    ADV_ROUTINES
