; isolation: a guest that tries to reach memory it does not own, through its
; own page tables, and checks that it only ever sees what a PC shows where no
; RAM is: reads of all ones, writes that go nowhere. Run with a decoy (boot
; module 1, memory the hypervisor must never hand out or map) by
; tests/core/isolation_test.cpp, which checks that the decoy's bytes are
; unchanged afterwards, on every profile and paging mode.
;
;   32-bit paging with PSE; the first 16 MiB (all of guest RAM) identity
;   mapped with 4 MiB pages; a window of 4 MiB pages at 0x40000000 onto
;   guest-physical addresses past the end of RAM (16 MiB up to 4 GiB - 4 MiB,
;   in 64 steps) and 4 KiB pages onto single frames past RAM;
;   every window is written (a pattern) at 17 offsets and read back: all ones;
;   a page table of its own placed past the end of RAM: using it faults with
;   P and RSVD set (the walk reads all ones), and the guest carries on;
;   guest RAM itself is still intact afterwards (the checksum of a page that
;   shares nothing with the writes).
%include "xeno.inc"
%include "xeno_check.inc"

RAM_END     equ 16 << 20
PD          equ 0x20000
PT_LOW      equ 0x21000     ; a 4 KiB page table for 0x00800000.. (its last entries point past RAM)
IDT         equ 0x22000
STACK_TOP   equ 0x7000
WINDOW      equ 0x40000000  ; 4 MiB pages onto guest-physical past RAM
WINDOWS     equ 64
SMALL_VA    equ 0x00800000 + 1020 * 4096    ; 4 KiB pages onto frames past RAM
BAD_PT_VA   equ 0x80000000  ; its page table lives past RAM
BAD_PT_GPA  equ 0x7fff0000
KEEP        equ 0x30000     ; a page the guest fills first and checks last
ALIAS_VA    equ 0xc0000000  ; a second, read-only view of the first 4 MiB

PF_P        equ 1
PF_W        equ 2
PF_RSVD     equ 8

    org 0x8000
    bits 16
start:
    XENO_REAL_MODE_START STACK_TOP
    XENO_ENTER_PM32 pm32, STACK_TOP

    bits 32
pm32:
    ; A page of guest RAM with known contents, checked at the end.
    mov edi, KEEP
    mov ecx, 1024
    mov eax, 0x13579bdf
.keep:
    mov [edi], eax
    add edi, 4
    rol eax, 3
    loop .keep

    ; IDT: #PF (vector 14) only; the handler records the error code and
    ; CR2 and skips the faulting 6-byte MOV.
    mov edi, IDT
    mov ecx, 2 * 32
    xor eax, eax
    rep stosd
    mov eax, pf_handler
    mov word [IDT + 14 * 8], ax
    mov word [IDT + 14 * 8 + 2], XENO_CODE32_SEL
    mov word [IDT + 14 * 8 + 4], 0x8e00     ; present, DPL 0, 32-bit interrupt gate
    shr eax, 16
    mov word [IDT + 14 * 8 + 6], ax
    lidt [idt_desc]

    ; Page directory: 0-16 MiB identity (4 MiB pages, except 8-12 MiB which
    ; goes through PT_LOW), the window, and the PDE whose table is past RAM.
    mov edi, PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PD + 0 * 4], 0x00000000 | 0x83
    mov dword [PD + 1 * 4], 0x00400000 | 0x83
    mov dword [PD + 2 * 4], PT_LOW | 3
    mov dword [PD + 3 * 4], 0x00c00000 | 0x83
    mov edi, PT_LOW
    mov eax, 0x00800000 | 3
    mov ecx, 1024
.pt:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    loop .pt
    ; The last four 4 KiB pages of PT_LOW point past RAM.
    mov dword [PT_LOW + 1020 * 4], RAM_END | 3
    mov dword [PT_LOW + 1021 * 4], (RAM_END + 0x5000) | 3
    mov dword [PT_LOW + 1022 * 4], 0x7ffff000 | 3
    mov dword [PT_LOW + 1023 * 4], 0xfffff000 | 3
    ; Window PDEs: 4 MiB pages at RAM_END + i * 63 MiB (rounded to 4 MiB).
    mov edi, PD + (WINDOW >> 22) * 4
    mov ecx, WINDOWS
    mov eax, RAM_END | 0x83
.win:
    mov [edi], eax
    add edi, 4
    add eax, 0x03c00000         ; +60 MiB: 16, 76, 136, ... up to about 3.8 GiB
    loop .win
    mov dword [PD + (BAD_PT_VA >> 22) * 4], BAD_PT_GPA | 3
    mov dword [PD + (ALIAS_VA >> 22) * 4], 0x00000000 | 0x81     ; low RAM again, read-only

    mov eax, cr4
    or eax, 1 << 4              ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16)   ; PG, WP
    mov cr0, eax
    jmp .paged
.paged:
    mov eax, cr0
    and eax, 1 << 31
    cmp eax, 1 << 31
    CHECK32 "paging-on"

    ; Every window: write a pattern at 17 offsets, read them back.
    xor ebx, ebx                ; window index
    mov dword [all_ones], 0
.window:
    mov esi, ebx
    shl esi, 22
    add esi, WINDOW
    xor edx, edx                ; offset index
.offset:
    mov eax, edx
    imul eax, eax, 0x3ff0c      ; spread over the 4 MiB page
    and eax, 0x3ffffc
    mov dword [esi + eax], 0x5a5a0000
    mov ecx, [esi + eax]
    cmp ecx, 0xffffffff
    jne .not_ones
    inc dword [all_ones]
.not_ones:
    inc edx
    cmp edx, 17
    jb .offset
    inc ebx
    cmp ebx, WINDOWS
    jb .window
    mov eax, [all_ones]
    cmp eax, WINDOWS * 17
    CHECK32 "large-windows-past-ram-read-all-ones"

    ; The 4 KiB pages onto frames past RAM.
    mov dword [all_ones], 0
    mov esi, SMALL_VA
    mov ecx, 4
.small:
    mov dword [esi + 0x10], 0xc3c3c3c3
    mov dword [esi + 0xffc], 0xc3c3c3c3
    cmp dword [esi + 0x10], 0xffffffff
    jne .small_next
    cmp dword [esi + 0xffc], 0xffffffff
    jne .small_next
    inc dword [all_ones]
.small_next:
    add esi, 0x1000
    loop .small
    mov eax, [all_ones]
    cmp eax, 4
    CHECK32 "small-pages-past-ram-read-all-ones"

    ; A page table past RAM: reads as all ones, so its entries are present
    ; with reserved bits set: #PF with P and RSVD (SDM Vol. 3A 4.7).
    mov dword [pf_count], 0
    mov dword [BAD_PT_VA + 0x123 * 4096 + 8], 1     ; 10-byte MOV: the handler skips 10
    mov eax, [pf_count]
    cmp eax, 1
    CHECK32 "page-table-past-ram-faults"
    mov eax, [pf_error]
    and eax, PF_P | PF_RSVD
    cmp eax, PF_P | PF_RSVD
    CHECK32 "page-table-past-ram-error-code"
    mov eax, [pf_cr2]
    cmp eax, BAD_PT_VA + 0x123 * 4096 + 8
    CHECK32 "page-table-past-ram-cr2"

    ; Guest RAM is what the guest left there.
    mov esi, KEEP
    mov ecx, 1024
    mov eax, 0x13579bdf
    xor edx, edx
.check_keep:
    cmp [esi], eax
    je .same
    inc edx
.same:
    add esi, 4
    rol eax, 3
    loop .check_keep
    mov eax, edx
    test eax, eax
    CHECK32 "guest-ram-intact"

    ; String I/O through the page tables: REP OUTSB from the alias (the
    ; hypervisor walks the guest's tables for it), REP INSB into a page
    ; that is read-only there (a #PF the guest sees, nothing written).
    mov esi, ALIAS_VA + msg_done
    mov ecx, msg_done_end - msg_done
    mov dx, XENO_UART_THR
    cld
    rep outsb
    mov dword [pf_count], 0
    mov edi, ALIAS_VA + insb_target
    mov ecx, 4
    mov dx, XENO_UART_LSR
    rep insb                    ; 2 bytes (F3 6C): the handler would skip 10, so
    jmp .after_insb             ; it lands on the padding below
    times 8 nop
.after_insb:
    mov eax, [pf_count]
    cmp eax, 1
    CHECK32 "rep-insb-read-only-faults"
    mov eax, [pf_error]
    cmp eax, PF_P | PF_W
    CHECK32 "rep-insb-error-code"
    mov eax, [insb_target]
    cmp eax, 0x11223344
    CHECK32 "rep-insb-wrote-nothing"
    mov eax, [failures]
    XENO_EXIT al

pf_handler:
    push eax
    mov eax, [esp + 4]          ; the error code
    mov [pf_error], eax
    mov eax, cr2
    mov [pf_cr2], eax
    inc dword [pf_count]
    add dword [esp + 8], 10     ; skip the faulting MOV
    pop eax
    add esp, 4
    iretd

    XENO_PRINT16_ROUTINES
    XENO_PRINT32_ROUTINES
    CHECK_ROUTINES
    XENO_FLAT_GDT

    align 4
all_ones:   dd 0
pf_count:   dd 0
pf_error:   dd 0
pf_cr2:     dd 0
idt_desc:
    dw 32 * 8 - 1
    dd IDT
insb_target: dd 0x11223344
msg_done:   db "isolation: done", 10
msg_done_end:
