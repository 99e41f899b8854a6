; mmio_hole_rw: reads and writes all over the MMIO hole (3-4 GiB) with
; paging off: a dword read, a zero write and a read again every 64 KiB from
; 0xc0000000 to 0xffff0000; every register of the local APIC page read,
; written with 0 and then with all ones (the ICR's low half excepted: that
; would send IPIs, which other rows do); every I/O APIC register index
; selected, read and written with all ones; accesses that straddle the
; local APIC page's end. Where nothing decodes an address (0xd0000000), a
; read gives all ones before and after a write (a PC's floating bus).
; Status 0 when the guest survives with that.
%include "adv.inc"
    ADV_PM32 main
main:
    EXPECT faulted
    mov esi, 0xc0000000
.hole:
    mov eax, [esi]
    mov dword [esi], 0
    mov eax, [esi]
    add esi, 0x10000
    jnz .hole
    mov esi, 0xfee00000
.lapic:
    mov eax, [esi]
    mov dword [esi], 0
    add esi, 0x10
    cmp esi, 0xfee01000
    jb .lapic
    mov esi, 0xfee00000
.lapic_ones:
    cmp esi, 0xfee00300
    je .skip_icr
    mov dword [esi], 0xffffffff
    mov eax, [esi]
.skip_icr:
    add esi, 0x10
    cmp esi, 0xfee01000
    jb .lapic_ones
    xor ecx, ecx
.ioapic:
    mov [0xfec00000], ecx
    mov eax, [0xfec00010]
    mov dword [0xfec00010], 0xffffffff
    inc ecx
    cmp ecx, 256
    jb .ioapic
    ; Straddling the end of the local APIC page and the I/O APIC window.
    mov eax, [0xfee00ffe]
    mov dword [0xfee00ffe], 0x12345678
    mov ax, [0xfee00fff]
    mov eax, [0xfec0000e]
    mov dword [0xfec0000e], 0
    NO_FAULT 1
    mov eax, [0xd0000000]
    cmp eax, 0xffffffff
    FAIL_IF ne, 2
    XENO_EXIT 0
faulted:
    XENO_EXIT 1
    ADV_ROUTINES
