; modes: the mode transitions firmware and boot loaders make, including the
; ones the manuals discourage, each verified by the guest itself: one line
; per check ("ok <name>" or "FAIL <name> got=<value>"), exit status 0 only if
; every check passed (else the number of failures).
;
;   real mode, real-mode IVT: INT n, #DE and INT3 through the IVT
;   real -> 16-bit protected mode, with POP ES/POP DS/MOV SS between MOV CR0
;     and the far jump (the selectors are protected-mode ones, CS is still
;     the real-mode cache)
;   16-bit -> 32-bit protected mode, memory above 1 MiB
;   32-bit -> 16-bit protected -> real mode, with POP DS and MOV ES between
;     MOV CR0 and the far jump; FS keeps a stale protected-mode cache (base
;     1 MiB) that real mode then uses
;   big real mode: 4 GiB data segments loaded in protected mode, kept across
;     the return to real mode and across real-mode selector loads; reads,
;     writes and A32 REP MOVSD above 1 MiB; then the limits are reset the
;     ordinary way (protected mode, 64 KiB segments, back)
;   32-bit protected mode with a TSS and an IDT: IRET to ring 3, INT 0x30 to
;     a ring-0 handler through a DPL-3 gate (stack switch from the TSS), #GP
;     from ring 3 (CLI with IOPL 0) to ring 0, INT 0x31 back to ring 0 for good
;   back to real mode; then protected mode again without LTR: the TR cache
;     survived real mode (STR, a second ring change through the same TSS);
;     and real mode at the end.
;
; Paging and long mode are in scenarios/modes-long.
%include "xeno.inc"
%include "xeno_check.inc"

CODE32    equ 0x08
DATA32    equ 0x10
CODE16    equ 0x18
DATA16    equ 0x20
HIGH16    equ 0x28          ; 16-bit data, base 1 MiB, limit 64 KiB
CODE3     equ 0x33          ; ring-3 flat code (GDT 0x30, RPL 3)
DATA3     equ 0x3b          ; ring-3 flat data (GDT 0x38, RPL 3)
TSS_SEL   equ 0x40

RM_STACK   equ 0x7000
RING0_STACK equ 0x6000
RING3_STACK equ 0x5000
IDT_BASE   equ 0x1000       ; 0x32 gates, built at run time
IDT_LIMIT  equ 0x32 * 8 - 1

MARK1      equ 0x100000     ; 1 MiB: written from real mode through FFFF:0010
MARK1_VAL  equ 0x1badcafe
MARK3      equ 0x300000     ; 3 MiB: written from 32-bit protected mode
MARK3_VAL  equ 0x5a5a1234
BIG_SRC    equ 0x100000
BIG_DST    equ 0x500000     ; 5 MiB: big real mode copies 16 dwords here
BIG_WORD   equ 0x400000

%define ABS(x) ((x) - $$ + 0x8000)

    org 0x8000

; ---- real mode --------------------------------------------------------------
    bits 16
start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, RM_STACK
    cld

    mov eax, cr0
    and eax, 1                  ; PE clear
    CHECK16 "real-mode-cr0"

    ; The real-mode IVT: INT 0x80, #DE and INT3 handlers.
    mov word [0x80 * 4], int80_handler
    mov word [0x80 * 4 + 2], 0
    mov word [0 * 4], de_handler
    mov word [0 * 4 + 2], 0
    mov word [3 * 4], bp_handler
    mov word [3 * 4 + 2], 0

    sti                         ; so the handler can see INT clear IF
    mov ax, 0x1234
    int 0x80
    pushf
    cli
    cmp ax, 0x2345
    CHECK16 "rm-int-n"
    pop ax
    and eax, 0x200              ; IF back after IRET
    cmp eax, 0x200
    CHECK16 "rm-iret-restores-if"
    movzx eax, word [int80_flags]
    and eax, 0x200              ; IF clear inside the handler
    CHECK16 "rm-int-clears-if"

    xor dx, dx
    mov ax, 5
    xor bl, bl
    div bl                      ; #DE: the handler skips these 2 bytes
    movzx eax, byte [de_hits]
    cmp eax, 1
    CHECK16 "rm-ivt-exception-de"

    int3
    movzx eax, byte [bp_hits]
    cmp eax, 1
    CHECK16 "rm-ivt-int3"

    ; A marker at 1 MiB, written the real-mode way (FFFF:0010).
    mov ax, 0xffff
    mov fs, ax
    mov dword [fs:0x10], MARK1_VAL
    xor ax, ax
    mov fs, ax

; ---- real -> 16-bit protected mode, pops between MOV CR0 and the jump -------
    lgdt [gdt_desc]
    push word DATA16
    push word HIGH16
    mov eax, cr0
    or al, 1
    mov cr0, eax
    ; CS still holds its real-mode cache; these are protected-mode loads.
    pop es                      ; HIGH16: base 1 MiB
    pop ds                      ; DATA16
    mov ax, DATA16
    mov ss, ax
    jmp CODE16:pm16

pm16:
    mov ax, cs
    movzx eax, ax
    cmp eax, CODE16
    CHECK16 "pm16-cs"
    smsw ax
    and eax, 1
    cmp eax, 1
    CHECK16 "pm16-pe"
    mov eax, [es:0]             ; ES popped before the far jump: base 1 MiB
    cmp eax, MARK1_VAL
    CHECK16 "pm16-popped-selector-before-jump"
    mov ax, ss
    movzx eax, ax
    cmp eax, DATA16
    CHECK16 "pm16-ss-loaded-before-jump"

; ---- 16-bit -> 32-bit protected mode ----------------------------------------
    jmp dword CODE32:pm32

    bits 32
pm32:
    mov ax, DATA32
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, RM_STACK
    mov eax, [MARK1]
    cmp eax, MARK1_VAL
    CHECK32 "pm32-read-above-1m"
    mov dword [MARK3], MARK3_VAL
    mov eax, [MARK3]
    cmp eax, MARK3_VAL
    CHECK32 "pm32-write-above-1m"
    mov ebx, esp
    push eax
    sub ebx, esp
    pop eax
    mov eax, ebx
    cmp eax, 4                  ; 32-bit pushes
    CHECK32 "pm32-operand-size"

; ---- 32-bit -> 16-bit protected -> real mode, FS stale ------------------------
    mov ax, HIGH16
    mov fs, ax                  ; the cache real mode will keep using
    jmp CODE16:pm16_back

    bits 16
pm16_back:
    mov ax, DATA16
    mov ds, ax
    mov es, ax
    mov gs, ax
    mov ss, ax
    push word 0                 ; the real-mode DS popped between MOV CR0 and the jump
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    pop ds                      ; real-mode load: base 0
    xor ax, ax
    mov es, ax
    jmp 0:rm_back

rm_back:
    mov ss, ax
    mov sp, RM_STACK
    mov gs, ax
    mov ebx, [fs:0]             ; stale FS (selector 0x28, base 1 MiB): the marker, not 0000:0280
    mov cx, fs
    mov fs, ax                  ; now FS is an ordinary real-mode segment
    mov eax, ebx
    cmp eax, MARK1_VAL
    CHECK16 "rm-stale-fs-cache"
    movzx eax, cx
    cmp eax, HIGH16
    CHECK16 "rm-stale-fs-selector"
    mov eax, cr0
    and eax, 1
    CHECK16 "back-to-real-mode"
    mov ax, 0x1234
    int 0x80
    cmp ax, 0x2345
    CHECK16 "rm-int-n-after-return"

; ---- big real mode ------------------------------------------------------------
    cli
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp CODE16:pm16_big
pm16_big:
    mov ax, DATA32              ; 4 GiB limit
    mov ds, ax
    mov es, ax
    mov gs, ax
    mov ax, DATA16              ; the stack stays 16-bit
    mov ss, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:big_rm
big_rm:
    xor ax, ax
    mov ds, ax                  ; real-mode loads keep the 4 GiB limits
    mov es, ax
    mov ss, ax
    mov esi, MARK3
    mov eax, [esi]
    cmp eax, MARK3_VAL
    CHECK16 "big-real-read-above-1m"
    mov edi, BIG_WORD
    mov dword [edi], 0x600df00d
    mov eax, [dword BIG_WORD]
    cmp eax, 0x600df00d
    CHECK16 "big-real-write-above-1m"
    mov dword [dword BIG_SRC + 4], 0x11111111
    mov esi, BIG_SRC
    mov edi, BIG_DST
    mov ecx, 16
    a32 rep movsd
    mov eax, [dword BIG_DST]
    cmp eax, MARK1_VAL
    CHECK16 "big-real-rep-movsd-first"
    mov eax, [dword BIG_DST + 4]
    cmp eax, 0x11111111
    CHECK16 "big-real-rep-movsd-second"
    mov eax, edi
    cmp eax, BIG_DST + 64
    CHECK16 "big-real-rep-movsd-edi"

    ; Leave big real mode the ordinary way: 64 KiB segments in protected mode.
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp CODE16:pm16_unbig
pm16_unbig:
    mov ax, DATA16
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:rm_unbig
rm_unbig:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov ax, 0x1234
    int 0x80
    cmp ax, 0x2345
    CHECK16 "rm-after-big-real"

; ---- protected mode with an IDT and a ring change ---------------------------
    XENO_ENTER_PM32 pm32_idt, RM_STACK

pm32_idt:
    ; The TSS: ring-0 stack for the privilege change (SDM 3A 8.2.1).
    mov dword [tss + 4], RING0_STACK
    mov dword [tss + 8], DATA32
    mov word [tss + 102], 104   ; I/O map base past the limit: no I/O bitmap
    lgdt [gdt_desc]
    mov ax, TSS_SEL
    ltr ax
    ; The IDT.
    mov edi, IDT_BASE
    mov ecx, (IDT_LIMIT + 1) / 4
    xor eax, eax
    rep stosd
    mov ecx, 13
    mov eax, gp_handler
    mov dl, 0x8e                ; present, DPL 0, 32-bit interrupt gate
    call set_gate
    mov ecx, 0x30
    mov eax, int30_handler
    mov dl, 0xee                ; DPL 3: callable from ring 3
    call set_gate
    mov ecx, 0x31
    mov eax, int31_handler
    call set_gate
    lidt [idt_desc]

    push dword DATA3            ; SS
    push dword RING3_STACK      ; ESP
    push dword 0x2              ; EFLAGS: IF=0, IOPL=0
    push dword CODE3            ; CS
    push dword ring3
    iret

ring3:
    mov ax, DATA3
    mov ds, ax
    mov es, ax
    mov ax, cs
    mov [r3_cs], ax
    mov [r3_esp], esp
    mov eax, 0x11
    int 0x30
    mov [r3_eax], eax
    mov [r3_esp_after], esp
    cli                         ; #GP(0): CPL 3 > IOPL 0
    int 0x31                    ; back to ring 0 for good

after_ring3:
    mov ax, DATA32
    mov ds, ax
    mov es, ax
    movzx eax, word [r3_cs]
    cmp eax, CODE3
    CHECK32 "ring3-cs"
    mov eax, [r0_cs]
    cmp eax, CODE32
    CHECK32 "int-ring3-to-ring0-cs"
    mov eax, [r0_ss]
    cmp eax, DATA32
    CHECK32 "int-ring3-to-ring0-ss-from-tss"
    mov eax, [r0_esp]
    cmp eax, RING0_STACK - 20   ; EIP, CS, EFLAGS, ESP, SS pushed on the TSS stack
    CHECK32 "int-ring3-to-ring0-esp-from-tss"
    mov eax, [r0_frame_cs]
    cmp eax, CODE3
    CHECK32 "int-frame-cs"
    mov eax, [r0_frame_ss]
    cmp eax, DATA3
    CHECK32 "int-frame-ss"
    mov eax, [r0_frame_esp]
    cmp eax, [r3_esp]
    CHECK32 "int-frame-esp"
    mov eax, [r3_eax]
    cmp eax, 0x12
    CHECK32 "iret-ring0-to-ring3"
    mov eax, [r3_esp_after]
    cmp eax, [r3_esp]
    CHECK32 "iret-restores-ring3-stack"
    mov eax, [gp_hits]
    cmp eax, 1
    CHECK32 "ring3-gp-to-ring0"
    mov eax, [gp_error]
    CHECK32 "ring3-gp-error-code"

; ---- and back to real mode ----------------------------------------------------
    jmp CODE16:pm16_final
    bits 16
pm16_final:
    mov ax, DATA16
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:rm_final
rm_final:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, RM_STACK
    lidt [rm_idt_desc]          ; the real-mode IVT again
    mov ax, 0x1234
    int 0x80
    cmp ax, 0x2345
    CHECK16 "final-real-mode-int-n"

    ; The TR cache survives real mode (no LTR here): a second ring change.
    XENO_ENTER_PM32 pm32_again, RM_STACK
pm32_again:
    lgdt [gdt_desc]
    lidt [idt_desc]
    str ax
    movzx eax, ax
    cmp eax, TSS_SEL
    CHECK32 "tr-survives-real-mode"
    mov dword [int31_target], after_second_ring3
    mov dword [r0_esp], 0
    push dword DATA3
    push dword RING3_STACK
    push dword 0x2
    push dword CODE3
    push dword ring3_again
    iret
ring3_again:
    ; IRET to ring 3 nulled DS and ES: they held DPL-0 data segments (SDM
    ; Vol. 2A IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL).
    mov bx, ds
    mov ax, DATA3
    mov ds, ax
    mov es, ax
    movzx ebx, bx
    mov [r3_ds], ebx
    mov eax, 0x41
    int 0x30
    mov [r3_eax], eax
    int 0x31
after_second_ring3:
    mov ax, DATA32
    mov ds, ax
    mov es, ax
    mov eax, [r0_esp]
    cmp eax, RING0_STACK - 20
    CHECK32 "second-ring-change-stack-from-tss"
    mov eax, [r3_eax]
    cmp eax, 0x42
    CHECK32 "second-ring-change-iret"
    mov eax, [r3_ds]
    test eax, eax
    CHECK32 "iret-to-ring3-nulls-ds"
    jmp CODE16:pm16_last
    bits 16
pm16_last:
    mov ax, DATA16
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:rm_last
rm_last:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov sp, RM_STACK
    lidt [rm_idt_desc]
    mov eax, cr0
    and eax, 1
    CHECK16 "last-real-mode"

    mov eax, [failures]
    test eax, eax
    jnz .failed
    mov si, msg_all_passed
    call xeno_puts16
    XENO_EXIT 0
.failed:
    XENO_EXIT al

; ---- real-mode handlers --------------------------------------------------------
    bits 16
int80_handler:
    push ax
    pushf
    pop ax
    mov [int80_flags], ax
    pop ax
    add ax, 0x1111
    iret

de_handler:
    push bp
    mov bp, sp
    add word [bp + 2], 2        ; skip DIV BL (F6 F3)
    inc byte [de_hits]
    pop bp
    iret

bp_handler:
    inc byte [bp_hits]          ; INT3 is a trap: the return address is past it
    iret

; ---- protected-mode handlers ------------------------------------------------
    bits 32
; ECX: vector, EAX: handler, DL: type byte.
set_gate:
    lea edi, [IDT_BASE + ecx * 8]
    mov [edi], ax
    mov word [edi + 2], CODE32
    mov byte [edi + 4], 0
    mov [edi + 5], dl
    shr eax, 16
    mov [edi + 6], ax
    ret

int30_handler:
    mov [r0_esp], esp
    push eax
    mov ax, cs
    movzx eax, ax
    mov [r0_cs], eax
    mov ax, ss
    movzx eax, ax
    mov [r0_ss], eax
    mov eax, [esp + 4 + 4]
    mov [r0_frame_cs], eax
    mov eax, [esp + 4 + 12]
    mov [r0_frame_esp], eax
    mov eax, [esp + 4 + 16]
    mov [r0_frame_ss], eax
    pop eax
    inc eax
    iret

gp_handler:
    push eax
    mov eax, [esp + 4]
    mov [gp_error], eax
    inc dword [gp_hits]
    pop eax
    add esp, 4                  ; the error code
    inc dword [esp]             ; skip CLI
    iret

int31_handler:
    mov esp, RM_STACK           ; leave ring 3 for good: drop the frame
    jmp [int31_target]

; ---- data -----------------------------------------------------------------------
    XENO_PRINT16_ROUTINES
    XENO_PRINT32_ROUTINES
    CHECK_ROUTINES

    align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08: 32-bit code, 4 GiB
    dq 0x00cf92000000ffff       ; 0x10: 32-bit data, 4 GiB
    dq 0x00009a000000ffff       ; 0x18: 16-bit code, 64 KiB
    dq 0x000092000000ffff       ; 0x20: 16-bit data, 64 KiB
    dq 0x000092100000ffff       ; 0x28: 16-bit data, base 1 MiB, 64 KiB
    dq 0x00cffa000000ffff       ; 0x30: ring-3 32-bit code
    dq 0x00cff2000000ffff       ; 0x38: ring-3 32-bit data
    dw 103                      ; 0x40: 32-bit TSS, available (type 9), DPL 0
    dw ABS(tss) & 0xffff
    db ABS(tss) >> 16
    db 0x89
    db 0
    db 0
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt_desc:
    dw IDT_LIMIT
    dd IDT_BASE
rm_idt_desc:
    dw 0x3ff
    dd 0

    ; XENO_ENTER_PM32 loads xeno_gdt: the same first three descriptors.
    XENO_FLAT_GDT

    align 4
tss:        times 104 db 0
int80_flags: dw 0
de_hits:    db 0
bp_hits:    db 0
    align 4
r3_cs:      dd 0
r3_esp:     dd 0
r3_eax:     dd 0
r3_esp_after: dd 0
r0_esp:     dd 0
r0_cs:      dd 0
r0_ss:      dd 0
r0_frame_cs: dd 0
r0_frame_esp: dd 0
r0_frame_ss: dd 0
gp_hits:    dd 0
gp_error:   dd 0
int31_target: dd after_ring3
r3_ds:      dd 0xffff

msg_all_passed: db "modes: all checks passed", 10, 0
