; ram_past_end: memory past the guest's 16 MiB of RAM, paging off: writes
; are dropped and reads give all ones (a PC's floating bus), one access at a
; time and in REP MOVS / REP STOS that run across the end of RAM (the RAM
; part is written, the rest is unchanged); an access that straddles the end.
; The first 12 KiB past RAM are the exception on shadow paging: the
; hypervisor maps its virtual-8086 TSS there read-only (vm86_tss_setup;
; guest_layout's hole frame), so the checks there only require that writes
; do not land. Status 0 when every check held.
%include "adv.inc"
RAM_END equ 16 << 20
    ADV_PM32 main
main:
    EXPECT faulted
    mov eax, [RAM_END + 0x10000]
    cmp eax, 0xffffffff
    FAIL_IF ne, 2
    mov dword [RAM_END + 0x10100], 0x12345678
    mov eax, [RAM_END + 0x10100]
    cmp eax, 0xffffffff
    FAIL_IF ne, 3
    mov ebx, [RAM_END]          ; whatever is there, writes must not change it
    mov dword [RAM_END], 0x12345678
    cmp [RAM_END], ebx
    FAIL_IF ne, 3
    mov dword [0xbffffffc], 0
    mov eax, [0xbffffffc]
    cmp eax, 0xffffffff
    FAIL_IF ne, 4
    ; Straddling: the last 2 bytes of RAM and 2 past it.
    mov dword [RAM_END - 2], 0x11223344
    mov ax, [RAM_END - 2]
    cmp ax, 0x3344
    FAIL_IF ne, 5
    mov eax, [RAM_END - 2]
    shl ebx, 16                 ; the 2 bytes past the end: as they were
    mov bx, 0x3344
    cmp eax, ebx
    FAIL_IF ne, 6
    ; REP STOSD from 32 bytes below the end to 32 bytes past it.
    mov ebx, [RAM_END + 4]
    mov edi, RAM_END - 32
    mov ecx, 16
    mov eax, 0xa5a5a5a5
    cld
    rep stosd
    cmp dword [RAM_END - 4], 0xa5a5a5a5
    FAIL_IF ne, 7
    cmp dword [RAM_END + 4], ebx
    FAIL_IF ne, 8
    ; REP MOVSD from past the end into RAM: all ones arrive.
    mov esi, RAM_END + 0x10000
    mov edi, 0x20000
    mov ecx, 256
    rep movsd
    cmp dword [0x20000], 0xffffffff
    FAIL_IF ne, 9
    cmp dword [0x203fc], 0xffffffff
    FAIL_IF ne, 9
    ; ... and from RAM across the end and back (backwards, DF = 1).
    std
    mov esi, 0x20000 + 252
    mov edi, RAM_END + 124
    mov ecx, 64
    rep movsd
    cld
    NO_FAULT 1
    XENO_EXIT 0
faulted:
    XENO_EXIT 1
    ADV_ROUTINES
