; paging: a small guest kernel that exercises the MMU the way an OS does,
; checked by the guest itself (one line per check, "ok <name>" or
; "FAIL <name> got=<value>", then "checksum=<8 hex digits>" over everything it
; observed; exit status 0 only if every check passed). Everything it relies on
; is architectural (Intel SDM Vol. 3A, chapter 4), so the result is the same
; with EPT and with shadow paging, on both profiles:
;
;   (a) 32-bit paging (CR4.PSE, CR4.PGE, CR0.WP): a shared, global kernel page
;       table (4 KiB pages, 0-4 MiB) and 4 MiB pages (4-16 MiB) in 64 address
;       spaces; demand faults in each (the #PF handler reads CR2 and the error
;       code, allocates page tables and a frame, maps it, returns); isolation
;       between the spaces; A/D bits read back from the PTEs, cleared and set
;       again after INVLPG; unmap + INVLPG refaults; remap with INVLPG and with
;       a CR3 reload; a 4 MiB alias and its dirty bit, remapped; a global page
;       remapped (CR4.PGE toggle, INVLPG); CR0.WP; ring 3 against supervisor,
;       read-only and not-present pages.
;   (b) PAE paging with EFER.NXE: 16 address spaces with demand faults, a
;       2 MiB alias and its dirty bit, an instruction fetch from an XD page.
;   (c) 4-level IA-32e paging (2 MiB and 4 KiB pages, no 1 GiB pages): two
;       address spaces with demand faults that allocate all four levels, above
;       4 GiB; XD in 64-bit mode; then back to 32-bit protected mode without
;       paging, where the results are checked.
;
; Every transition that changes a present entry invalidates it (INVLPG, a CR3
; reload, or a CR4.PGE toggle for global entries, SDM 3A 4.10.4); entries
; going from not present to present need none (4.10.4.3). A bits are only
; checked set (they may be set speculatively), D bits set and clear.
%include "xeno.inc"
%include "check.inc"

CODE32      equ 0x08
DATA32      equ 0x10
CODE64      equ 0x18
USER_CODE   equ 0x20 | 3
USER_DATA   equ 0x28 | 3
TSS_SEL     equ 0x30

STACK_TOP   equ 0x7000          ; ring-0 stack
ESP0_TOP    equ 0x5000          ; ring-0 stack for interrupts from ring 3
USER_STACK  equ 0x3000          ; its page is user-writable
USER_RO     equ 0x2000          ; a user, read-only data page
WP_PAGE     equ 0xf0000         ; read-only supervisor page
GLOBAL_VA   equ 0xf1000         ; global page remapped between two frames
NX_VA       equ 0xf2000         ; CODE_FRAME, execute-disable
EXEC_VA     equ 0xf3000         ; CODE_FRAME, executable
CODE_FRAME  equ 0xf4000
GLOBAL_X    equ 0xf5000
GLOBAL_Y    equ 0xf6000
FRAMES      equ 0x100000        ; the frame allocator's range
FRAMES_END  equ 0x800000
PSE_TARGET1 equ 0x800000        ; 8-16 MiB: targets of the large-page aliases
PSE_TARGET2 equ 0xc00000
ALIAS2M_PHYS equ 0xa00000

DEMAND      equ 0x40000000      ; demand pages: DEMAND + j * DEMAND_STRIDE
DEMAND_STRIDE equ 0x201000      ; a new PDE every other page
USER_DEMAND equ 0x50000000
USER_EXIT   equ 0x60000000      ; never mapped: ring 3 reads it to return to the kernel
PSE_ALIAS   equ 0x80000000
ALIAS2M     equ 0x20000000
AS32_COUNT  equ 64
PAE_COUNT   equ 16

PTE_P       equ 1
PTE_RW      equ 2
PTE_US      equ 4
PTE_A       equ 0x20
PTE_D       equ 0x40
PTE_PS      equ 0x80
PTE_G       equ 0x100
PF_P        equ 1
PF_W        equ 2
PF_U        equ 4
PF_ID       equ 0x10

IA32_EFER   equ 0xc0000080
EFER_LME    equ 1 << 8
EFER_NXE    equ 1 << 11
CR0_WP      equ 1 << 16
CR0_PG      equ 1 << 31
CR4_PSE     equ 1 << 4
CR4_PAE     equ 1 << 5
CR4_PGE     equ 1 << 7

MODE_32     equ 0
MODE_PAE    equ 1

    org 0x8000
    bits 16
start:
    XENO_ENTER_PM32 pm32, STACK_TOP

    bits 32
pm32:
    lgdt [gdt_desc]
    jmp CODE32:.reload
.reload:
    cld
    call setup_tables
    call phase_32
    call phase_pae
    jmp phase_long              ; comes back at after_long

after_long:
    call report_long
    mov eax, [demand_faults]
    CHECK_EQ "demand-faults-total", 64 * 4 + 1 + 1 + PAE_COUNT * 4 + 32
    mov eax, [prot_faults]
    CHECK_EQ "protection-faults-total", 5
    mov eax, [failures]
    test eax, eax
    jnz .failed
    mov esi, msg_all_passed
    call xeno_puts32
.failed:
    mov esi, msg_checksum
    call xeno_puts32
    mov eax, [checksum]
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    mov eax, [failures]
    test eax, eax
    jnz .exit_failed
    XENO_EXIT 0
.exit_failed:
    XENO_EXIT 1

; ---- descriptor tables ----------------------------------------------------------------
setup_tables:
    ; TSS descriptor: base tss, limit 103, 32-bit available TSS (type 9).
    mov eax, tss
    mov [gdt + TSS_SEL + 2], ax
    shr eax, 16
    mov [gdt + TSS_SEL + 4], al
    mov [gdt + TSS_SEL + 7], ah
    mov ax, TSS_SEL
    ltr ax
    mov ecx, 32
.exc:
    dec ecx
    mov eax, unexpected32
    mov dl, 0x8e
    call set_gate32
    mov eax, unexpected64
    call set_gate64
    test ecx, ecx
    jnz .exc
    mov ecx, 0x1f                       ; INT 0x1f: returns at once
    mov eax, iret32
    call set_gate32
    mov ecx, 14
    mov eax, pf32
    call set_gate32
    mov eax, pf64
    call set_gate64
    lidt [idt32_desc]
    ret

iret32:
    iretd

; ECX = vector, EAX = handler, DL = type byte.
set_gate32:
    mov [idt32 + ecx * 8], ax
    mov word [idt32 + ecx * 8 + 2], CODE32
    mov byte [idt32 + ecx * 8 + 4], 0
    mov [idt32 + ecx * 8 + 5], dl
    shr eax, 16
    mov [idt32 + ecx * 8 + 6], ax
    ret

; ECX = vector, EAX = handler (below 4 GiB): a 64-bit interrupt gate.
set_gate64:
    push ecx
    shl ecx, 4
    mov [idt64 + ecx], ax
    mov word [idt64 + ecx + 2], CODE64
    mov word [idt64 + ecx + 4], 0x8e00
    shr eax, 16
    mov [idt64 + ecx + 6], ax
    mov dword [idt64 + ecx + 8], 0
    mov dword [idt64 + ecx + 12], 0
    pop ecx
    ret

; ---- the frame allocator (frames are identity-mapped in every phase) -------------------
; alloc_frame: EAX = a 4 KiB frame, contents undefined. alloc_zeroed: zeroed.
alloc_frame:
    mov eax, [next_frame]
    cmp eax, FRAMES_END
    jae .out
    add dword [next_frame], 0x1000
    ret
.out:
    mov esi, msg_no_frames
    call xeno_puts32
    XENO_EXIT 2

alloc_zeroed:
    call alloc_frame
    push edi
    push ecx
    push eax
    mov edi, eax
    xor eax, eax
    mov ecx, 1024
    rep stosd
    pop eax
    pop ecx
    pop edi
    ret

; ---- the 32-bit #PF handler (32-bit paging and PAE) ------------------------------------
; Not present: demand-map the page (user if the access was). Present (a
; protection fault the kernel provoked): continue at pf_resume, or skip
; pf_skip bytes of the faulting instruction (ring 3 cannot set pf_resume).
pf32:
    pushad
    mov ebp, esp
    mov eax, [ebp + 32]         ; the error code
    mov [last_err], eax
    call fold32
    shl dword [err_log], 8
    or [err_log], al
    mov edx, eax
    mov eax, [ebp + 36]
    mov [last_eip], eax         ; for the unexpected-fault messages only
    mov eax, cr2
    mov [last_cr2], eax
    call fold32
    cmp eax, USER_EXIT
    je user_exit
    test dl, PF_P
    jnz .protection
    inc dword [demand_faults]
    cmp byte [paging_mode], MODE_PAE
    je .pae
    call map32
    jmp .out
.pae:
    call map_pae
    jmp .out
.protection:
    inc dword [prot_faults]
    mov ecx, [pf_resume]
    test ecx, ecx
    jz .skip
    mov dword [pf_resume], 0
    mov [ebp + 36], ecx
    jmp .out
.skip:
    mov ecx, [pf_skip]
    test ecx, ecx
    jz unexpected_pf32
    add [ebp + 36], ecx
    mov [last_skipped_cr2], eax
.out:
    popad
    add esp, 4                  ; the error code
    iretd

; EAX = CR2, EDX = error code; 32-bit paging.
map32:
    mov ebx, cr3
    and ebx, 0xfffff000
    mov ecx, eax
    shr ecx, 22
    lea esi, [ebx + ecx * 4]    ; the PDE
    mov ebx, [esi]
    test bl, PTE_P
    jnz .table
    push eax
    call alloc_zeroed
    mov ebx, eax
    or eax, PTE_P | PTE_RW | PTE_US     ; the PTE decides U/S and R/W
    mov [esi], eax
    pop eax
.table:
    and ebx, 0xfffff000
    mov ecx, eax
    shr ecx, 12
    and ecx, 0x3ff
    lea esi, [ebx + ecx * 4]    ; the PTE
    call new_data_frame
    and edx, PF_U
    or edx, PTE_P | PTE_RW
    or edx, edi
    mov [esi], edx
    ret

; EAX = CR2, EDX = error code; PAE paging (the PDPTEs are all present).
map_pae:
    mov ebx, cr3
    and ebx, 0xffffffe0
    mov ecx, eax
    shr ecx, 30
    mov ebx, [ebx + ecx * 8]    ; the PDPTE
    and ebx, 0xfffff000
    mov ecx, eax
    shr ecx, 21
    and ecx, 0x1ff
    lea esi, [ebx + ecx * 8]    ; the PDE
    mov ebx, [esi]
    test bl, PTE_P
    jnz .table
    push eax
    call alloc_zeroed
    mov ebx, eax
    or eax, PTE_P | PTE_RW | PTE_US
    mov [esi], eax
    pop eax
.table:
    and ebx, 0xfffff000
    mov ecx, eax
    shr ecx, 12
    and ecx, 0x1ff
    lea esi, [ebx + ecx * 8]    ; the PTE (its high half is 0: the table was zeroed)
    call new_data_frame
    and edx, PF_U
    or edx, PTE_P | PTE_RW
    or edx, edi
    mov [esi], edx
    ret

; EAX = CR2: EDI = a new frame whose first dword is the tag
; (CR2's page | demand_faults), which is folded into the checksum.
new_data_frame:
    push eax
    call alloc_frame
    mov edi, eax
    pop eax
    push eax
    and eax, 0xfffff000
    or eax, [demand_faults]
    mov [edi], eax
    call fold32
    pop eax
    ret

unexpected_pf32:
    mov esi, msg_unexpected_pf
    call xeno_puts32
    mov eax, [last_cr2]
    call xeno_hex32
    mov al, ' '
    call xeno_putc32
    mov eax, [ebp + 36]
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    XENO_EXIT 3

unexpected32:
    mov esi, msg_unexpected
    call xeno_puts32
    mov ecx, 4                  ; the top of the frame: [error code,] EIP, CS, EFLAGS
.frame:
    mov eax, [esp]
    add esp, 4
    call xeno_hex32
    mov al, ' '
    call xeno_putc32
    loop .frame
    mov eax, [err_log]          ; then the last #PF error codes, CR2 and EIP
    call xeno_hex32
    mov al, ' '
    call xeno_putc32
    mov eax, [last_cr2]
    call xeno_hex32
    mov al, ' '
    call xeno_putc32
    mov eax, [last_eip]
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    XENO_EXIT 4

; A read of USER_EXIT from ring 3 (a #PF, U set): back to the kernel, where
; enter_user was called, dropping the fault's frame.
;
; (INT n through a DPL-3 gate is the usual way back; this way the way back is
; one more ring-3 #PF, its CR2 folded into the checksum like every other;
; tests/engine/ring3_int_test.cpp covers INT n after a ring-3 #PF.)
user_exit:
    mov ax, DATA32
    mov ds, ax
    mov [user_ebx], ebx
    mov [user_ecx], ecx
    mov esp, [saved_esp]
    mov es, ax
    mov fs, ax
    mov gs, ax
    ret

enter_user:
    mov [saved_esp], esp
    push USER_DATA
    push USER_STACK + 0x1000
    pushfd
    push USER_CODE
    push user_code
    iretd

; EAX = linear address: EAX = the address of its PTE (32-bit paging, CR3).
pte32_ptr:
    push ebx
    mov ebx, cr3
    and ebx, 0xfffff000
    push eax
    shr eax, 22
    mov ebx, [ebx + eax * 4]
    and ebx, 0xfffff000
    pop eax
    shr eax, 12
    and eax, 0x3ff
    lea eax, [ebx + eax * 4]
    pop ebx
    ret

; EAX = linear address: EAX = the address of its PTE (PAE paging, CR3).
pte_pae_ptr:
    push ebx
    push ecx
    mov ebx, cr3
    and ebx, 0xffffffe0
    mov ecx, eax
    shr ecx, 30
    mov ebx, [ebx + ecx * 8]
    and ebx, 0xfffff000
    mov ecx, eax
    shr ecx, 21
    and ecx, 0x1ff
    mov ebx, [ebx + ecx * 8]
    and ebx, 0xfffff000
    shr eax, 12
    and eax, 0x1ff
    lea eax, [ebx + eax * 8]
    pop ecx
    pop ebx
    ret

%include "phase32.inc"
%include "phase_pae_long.inc"

; ---- data -------------------------------------------------------------------------------
    XENO_PRINT32_ROUTINES
    CHECK_ROUTINES
    XENO_FLAT_GDT

    ; The code descriptors start with the accessed bit clear (type 0xa): the
    ; far jumps that load them set it.
    align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08: 32-bit code
    dq 0x00cf92000000ffff       ; 0x10: data, 4 GiB
    dq 0x00af9a000000ffff       ; 0x18: 64-bit code (L=1, D=0)
    dq 0x00cffa000000ffff       ; 0x20: 32-bit code, DPL 3
    dq 0x00cff2000000ffff       ; 0x28: data, DPL 3
    dq 0x0000890000000067       ; 0x30: the TSS (base filled in)
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt32_desc:
    dw 32 * 8 - 1
    dd idt32
idt64_desc:
    dw 32 * 16 - 1
    dq idt64

    align 4
tss:
    dd 0
    dd ESP0_TOP                 ; ESP0
    dd DATA32                   ; SS0
    times 22 dd 0
    dw 0
    dw 104                      ; I/O map base past the limit: no I/O bitmap
next_frame:    dd FRAMES
paging_mode:   dd MODE_32
demand_faults: dd 0
prot_faults:   dd 0
last_err:      dd 0
last_cr2:      dd 0
last_cr2_hi:   dd 0
last_pte_ptr:  dd 0
last_eip:      dd 0
last_skipped_cr2: dd 0
err_log:       dd 0
pf_resume:     dd 0
pf_skip:       dd 0
saved_esp:     dd 0
reuse_top:     dd 0             ; the end of the page table used as a stack
reuse_saved:   times 4 dd 0
user_ebx:      dd 0
user_ecx:      dd 0
bad:           dd 0             ; OR of mismatches in a loop
as_roots:      times AS32_COUNT dd 0
pae_roots:     times PAE_COUNT dd 0
pml4_a:        dd 0
pml4_b:        dd 0
kpt:           dd 0             ; 32-bit paging: the shared kernel page table
kpd_pae:       dd 0             ; PAE and IA-32e: the shared kernel PD (0-1 GiB)
pt_pae0:       dd 0             ; its page table for 0-2 MiB
pass_count:    dd 0             ; demand_pass parameters
pass_base:     dd 0
pass_verify:   dd 0
long_results:  times 16 dd 0    ; written in 64-bit mode, checked by report_long

msg_all_passed:    db "paging: all checks passed", 10, 0
msg_checksum:      db "checksum=", 0
msg_no_frames:     db "FAIL frame-allocator-exhausted", 10, 0
msg_unexpected_pf: db "FAIL unexpected-page-fault got=", 0
msg_unexpected:    db "FAIL unexpected-exception got=", 0

nx_code:                        ; copied to CODE_FRAME; the same bytes in 32- and 64-bit code
    mov eax, 0x600d600d
    ret
nx_code_end:

    align 8
idt32: times 32 * 8 db 0
    align 16
idt64: times 32 * 16 db 0

; The ring-3 code page: user, read-only (its PTE is set up in phase_32). The
; read-only page ring 3 writes to is another one (USER_RO): for a data fault
; on the page of the faulting instruction the sim's model reports CR2 = RIP
; (exact_fault_address assumes a fetch), where Bochs reports the data address.
    align 4096
user_code:
    mov ax, USER_DATA           ; IRET to ring 3 nulled DS and ES
    mov ds, ax
    mov es, ax
    mov eax, [USER_RO + 0x10]   ; a user page: fine
    mov ebx, eax
    ; The two faulting accesses below are 5 bytes each (A1/A3 moffs forms):
    ; the #PF handler skips them (pf_skip).
    mov eax, [start]            ; a supervisor page: #PF with P|U
    mov [USER_RO + 0x10], eax   ; a read-only user page: #PF with P|W|U
    mov eax, 0x7777
    mov [USER_DEMAND], eax      ; not present: a demand fault with W|U, then retried
    mov ecx, [USER_DEMAND]
    mov eax, [USER_EXIT]        ; back to ring 0 through the #PF handler
