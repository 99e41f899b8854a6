; paging_workload: an OS-like paging load for xeno-bench's `paging` figure.
; 32-bit paging (no PAE, no PSE): after the real-mode start, a kernel builds
; AS_COUNT page directories that share one kernel page table (0-4 MiB,
; identity, supervisor) and each own one page table for a data region at
; DATA_VA (user pages). For param0 rounds it switches to every address space
; (MOV CR3) and writes PAGES pages of the region, which are not mapped: its
; #PF handler demand-maps each from a frame allocator; then it switches to
; every space again, reads the pages back, checks and folds them into a
; checksum, and unmaps them (PTE cleared + INVLPG); the allocator is reset,
; so the frames are recycled every round. A newline to the UART before and
; after the rounds brackets the measured window; then it prints
; "pf=<hex> checksum=<hex>" and exits 0 if every read-back and its own #PF
; count (rounds x AS_COUNT x PAGES) were right, 3 otherwise.
%include "bench.inc"

AS_COUNT    equ 32
PAGES       equ 16
STACK_TOP   equ 0x7000
KPT         equ 0x100000        ; the shared kernel page table
PDS         equ 0x101000        ; AS_COUNT page directories
PTS         equ PDS + AS_COUNT * 0x1000     ; AS_COUNT data page tables
FRAMES      equ 0x400000        ; data frames (outside the kernel mapping)
DATA_VA     equ 0x40000000
PTE_P       equ 1
PTE_RW      equ 2
PTE_US      equ 4

; EDI = the data page EBX of the current space, EAX = its tag:
; round (ESI) << 24 | address space (ECX) << 8 | page (EBX).
%macro PAGE_AND_TAG 0
    mov edi, ebx
    shl edi, 12
    add edi, DATA_VA
    mov eax, esi
    shl eax, 16
    or eax, ecx
    shl eax, 8
    or eax, ebx
%endmacro

    org 0x8000
    BENCH_HEADER kernel, kernel_end, 0, 0
    XENO_ENTER_PM32 main32, STACK_TOP

    bits 32
main32:
    cld
    ; The IDT: #PF to pf_handler, everything else to unexpected.
    mov ecx, 32
.gates:
    dec ecx
    mov eax, unexpected
    cmp ecx, 14
    jne .gate
    mov eax, pf_handler
.gate:
    mov [idt + ecx * 8], ax
    mov word [idt + ecx * 8 + 2], XENO_CODE32_SEL
    mov word [idt + ecx * 8 + 4], 0x8e00
    shr eax, 16
    mov [idt + ecx * 8 + 6], ax
    test ecx, ecx
    jnz .gates
    lidt [idt_desc]
    ; Zero the kernel PT, the PDs and the data PTs, then fill them.
    mov edi, KPT
    mov ecx, (1 + 2 * AS_COUNT) * 1024
    xor eax, eax
    rep stosd
    mov edi, KPT
    mov eax, PTE_P | PTE_RW
.kpt:
    stosd
    add eax, 0x1000
    cmp edi, KPT + 4096
    jb .kpt
    xor ecx, ecx
.pd:
    mov edi, ecx
    shl edi, 12
    mov dword [PDS + edi], KPT | PTE_P | PTE_RW | PTE_US
    lea eax, [PTS + edi + PTE_P + PTE_RW + PTE_US]
    mov [PDS + edi + (DATA_VA >> 22) * 4], eax
    inc ecx
    cmp ecx, AS_COUNT
    jb .pd
    mov eax, PDS
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000          ; CR0.PG
    mov cr0, eax
    jmp kernel

    align 16
kernel:
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al                  ; the start marker
    mov ebp, [bench_param0]     ; rounds
    xor esi, esi                ; round number
.round:
    cmp esi, ebp
    jae .done
    mov dword [next_frame], FRAMES
    ; Write: every address space, every page (demand faults).
    xor ecx, ecx
.w_as:
    mov eax, ecx
    shl eax, 12
    add eax, PDS
    mov cr3, eax
    xor ebx, ebx
.w_page:
    PAGE_AND_TAG
    mov [edi], eax              ; not present: #PF, mapped, retried
    not eax
    mov [edi + 0x800], eax
    inc ebx
    cmp ebx, PAGES
    jb .w_page
    inc ecx
    cmp ecx, AS_COUNT
    jb .w_as
    ; Read back, check, fold, unmap.
    xor ecx, ecx
.r_as:
    mov eax, ecx
    shl eax, 12
    add eax, PDS
    mov cr3, eax
    xor ebx, ebx
.r_page:
    PAGE_AND_TAG
    mov edx, [edi]
    cmp edx, eax
    jne .bad
    not eax
    cmp eax, [edi + 0x800]
    jne .bad
    jmp .fold
.bad:
    inc dword [mismatches]
.fold:
    mov eax, [checksum]
    rol eax, 5
    xor eax, edx
    add eax, [edi + 0x800]
    mov [checksum], eax
    ; The frame too (allocation order is part of what is checked).
    mov eax, ecx
    shl eax, 12
    mov edx, [PTS + eax + ebx * 4]
    and edx, 0xfffff000
    xor [checksum], edx
    mov dword [PTS + eax + ebx * 4], 0
    invlpg [edi]
    inc ebx
    cmp ebx, PAGES
    jb .r_page
    inc ecx
    cmp ecx, AS_COUNT
    jb .r_as
    inc esi
    jmp .round
.done:
kernel_end:
    mov dx, XENO_UART_THR
    mov al, 10
    out dx, al                  ; the end marker
    mov esi, msg_pf
    call xeno_puts32
    mov eax, [pf_count]
    call xeno_hex32
    mov esi, msg_sum
    call xeno_puts32
    mov eax, [checksum]
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    cmp dword [mismatches], 0
    jne .fail
    mov eax, [bench_param0]
    imul eax, eax, AS_COUNT * PAGES
    cmp eax, [pf_count]
    jne .fail
    XENO_EXIT 0
.fail:
    XENO_EXIT 3

; Not present, in the data region: map a frame from the allocator.
pf_handler:
    pushad
    mov eax, cr2
    mov edx, [esp + 32]         ; the error code
    test edx, PTE_P
    jnz unexpected
    mov ecx, eax
    sub ecx, DATA_VA
    cmp ecx, PAGES * 0x1000
    jae unexpected
    inc dword [pf_count]
    mov ebx, cr3
    and ebx, 0xfffff000
    mov ecx, eax
    shr ecx, 22
    mov ebx, [ebx + ecx * 4]    ; the PDE
    and ebx, 0xfffff000
    shr eax, 12
    and eax, 0x3ff
    lea ebx, [ebx + eax * 4]    ; the PTE
    mov eax, [next_frame]
    cmp eax, FRAMES + AS_COUNT * PAGES * 0x1000
    jae unexpected
    add dword [next_frame], 0x1000
    or eax, PTE_P | PTE_RW | PTE_US
    mov [ebx], eax
    popad
    add esp, 4
    iretd

unexpected:
    mov esi, msg_unexpected
    call xeno_puts32
    mov eax, cr2
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    XENO_EXIT 4

    XENO_PRINT32_ROUTINES
    XENO_FLAT_GDT

    align 4
next_frame: dd FRAMES
pf_count:   dd 0
checksum:   dd 0
mismatches: dd 0
idt_desc:
    dw 32 * 8 - 1
    dd idt
msg_pf:     db "pf=", 0
msg_sum:    db " checksum=", 0
msg_unexpected: db "FAIL unexpected fault cr2=", 0
    align 8
idt: times 32 * 8 db 0
