; tasks: hardware task switching (SDM Vol. 3A chapter 7), which VMX never
; does in non-root operation: every switch is a VM exit the hypervisor
; completes on the guest's state.
;
;   CALL to a TSS: the callee sees NT, its back link, TR, CR0.TS, the
;   registers of its TSS and an LDT of its own (DS from it); IRET returns,
;   the caller's registers come back and the callee's state was saved;
;   JMP through a task gate in the GDT and JMP back: no nesting, busy flags
;   moved; INT 0x40 through a task gate in the IDT, twice (the handler task
;   resumes where its IRET left it); #GP through a task gate, with the error
;   code on the handler task's stack: from a bad selector load, and from a
;   JMP to the busy current TSS (the check before the switch faults); a
;   task whose TSS holds another CR3 (paging on: another mapping of the
;   same linear address), and the caller's CR3 back after IRET, under 32-bit
;   and under PAE paging (the new task's PDPTEs loaded from its CR3).
%include "xeno.inc"
%include "xeno_check.inc"

STACK_TOP   equ 0x7000
STACK_T1    equ 0x6000
STACK_INT   equ 0x5800
STACK_GP    equ 0x5000
STACK_PG    equ 0x4800
LDT_DATA    equ 0x100000        ; base of task 1's LDT data segment
PD1         equ 0x20000         ; VA 4 MiB -> PA 4 MiB
PD2         equ 0x21000         ; VA 4 MiB -> PA 8 MiB
PDPT1       equ 0x22000         ; PAE: 32-byte PDPTs, one page
PDPT2       equ 0x22020
PD_A        equ 0x23000         ; PAE: VA 4 MiB -> PA 4 MiB
PD_B        equ 0x24000         ; PAE: VA 4 MiB -> PA 8 MiB
MAGIC_LDT   equ 0x1d7da7a0
MAGIC_A     equ 0xaaaa0004
MAGIC_B     equ 0xbbbb0008

SEL_CODE    equ 0x08
SEL_DATA    equ 0x10
SEL_MAIN    equ 0x18
SEL_T1      equ 0x20
SEL_GATE_T1 equ 0x28
SEL_INT     equ 0x30
SEL_GP      equ 0x38
SEL_LDT1    equ 0x40
SEL_PG      equ 0x48
SEL_LDT_DS  equ 0x04            ; LDT index 0, RPL 0

TSS_LINK    equ 0x00
TSS_CR3     equ 0x1c
TSS_EIP     equ 0x20
TSS_ECX     equ 0x2c
TSS_EBX     equ 0x34
TSS_ESP     equ 0x38

NT          equ 1 << 14
CR0_TS      equ 1 << 3
CR0_PG      equ 1 << 31
CR4_PSE     equ 1 << 4
CR4_PAE     equ 1 << 5

; CHECK_EQ "name", value: EAX against value.
%macro CHECK_EQ 2
    cmp eax, %2
    CHECK32 %1
%endmacro

; A 32-bit TSS (SDM Vol. 3A Figure 7-2): EIP, ESP, FS and LDT as given, the
; flat ring-0 code/data selectors elsewhere, EFLAGS = 2, CR3 0 (set later).
%macro TSS32 4
    dd 0                        ; back link
    dd 0, 0, 0, 0, 0, 0         ; ESP0/SS0 .. ESP2/SS2
    dd 0                        ; CR3
    dd %1                       ; EIP
    dd 2                        ; EFLAGS
    dd 0, 0, 0, 0               ; EAX ECX EDX EBX
    dd %2                       ; ESP
    dd 0, 0, 0                  ; EBP ESI EDI
    dd SEL_DATA, SEL_CODE, SEL_DATA, SEL_DATA, %3, SEL_DATA  ; ES CS SS DS FS GS
    dd %4                       ; LDT
    dw 0, 0x68                  ; T, I/O map base (none)
%endmacro

; An available 32-bit TSS descriptor (type 9) for a TSS below 64 KiB.
%macro TSS_DESC 1
    dw 0x67, %1
    db 0, 0x89, 0, 0
%endmacro

; A task gate (type 5, DPL 0) for TSS selector %1.
%macro TASK_GATE 1
    dw 0, %1
    db 0, 0x85
    dw 0
%endmacro

    org 0x8000
    bits 16
start:
    XENO_REAL_MODE_START STACK_TOP
    XENO_ENTER_PM32 pm32, STACK_TOP

    bits 32
pm32:
    lgdt [gdt_desc]
    jmp SEL_CODE:.reload
.reload:
    lidt [idt_desc]
    mov ax, SEL_MAIN
    ltr ax
    mov dword [LDT_DATA], MAGIC_LDT

    ; ---- CALL to a TSS, IRET back ----------------------------------------
    mov dword [tss_t1 + TSS_EBX], 0x11112222
    mov eax, 0x5a5a0001
    mov ebx, 0x5a5a0002
    call SEL_T1:0
after_call:
    CHECK_EQ "call-caller-eax-restored", 0x5a5a0001
    mov eax, ebx
    CHECK_EQ "call-caller-ebx-restored", 0x5a5a0002
    mov eax, [t1_flags]
    and eax, NT
    CHECK_EQ "call-callee-nt-set", NT
    mov eax, [t1_link]
    CHECK_EQ "call-back-link", SEL_MAIN
    mov eax, [t1_tr]
    CHECK_EQ "call-callee-tr", SEL_T1
    mov eax, [t1_ebx]
    CHECK_EQ "call-callee-registers-from-tss", 0x11112222
    mov eax, [t1_cr0]
    and eax, CR0_TS
    CHECK_EQ "call-cr0-ts-set", CR0_TS
    mov eax, [t1_ldt_value]
    CHECK_EQ "call-callee-ldt-data", MAGIC_LDT
    mov eax, [tss_t1 + TSS_ECX]
    CHECK_EQ "iret-callee-state-saved", 0xc0ffee01
    mov eax, [tss_t1 + TSS_EIP]
    CHECK_EQ "iret-callee-eip-saved", t1_resume
    pushfd
    pop eax
    and eax, NT
    CHECK_EQ "iret-caller-nt-clear", 0
    call busy_bits
    CHECK_EQ "iret-busy-main-only", 1
    clts

    ; ---- JMP through a task gate, JMP back --------------------------------
    mov eax, 0x6b6b0001
    jmp SEL_GATE_T1:0
after_jmp:
    CHECK_EQ "jmp-caller-eax-restored", 0x6b6b0001
    mov eax, [t1_jmp_flags]
    and eax, NT
    CHECK_EQ "jmp-no-nt", 0
    mov eax, [t1_jmp_busy]
    CHECK_EQ "jmp-busy-callee-only", 2
    call busy_bits
    CHECK_EQ "jmp-back-busy-main-only", 1
    clts

    ; ---- INT 0x40 through a task gate, twice ------------------------------
    int 0x40
    int 0x40
after_int2:
    mov eax, [int_count]
    CHECK_EQ "int-task-gate-twice", 2
    mov eax, [int_link]
    CHECK_EQ "int-back-link", SEL_MAIN
    mov eax, [int_flags]
    and eax, NT
    CHECK_EQ "int-nt-set", NT
    mov eax, [tss_main + TSS_EIP]
    CHECK_EQ "int-return-eip-saved", after_int2
    clts

    ; ---- #GP through a task gate ------------------------------------------
    mov ax, 0x1230              ; beyond the GDT limit
    mov ds, ax                  ; #GP(0x1230): the #GP task skips this 2-byte MOV
    mov eax, [gp_error]
    CHECK_EQ "gp-task-error-code", 0x1230
    jmp SEL_MAIN:0              ; to the busy current TSS: #GP(0x18) before any switch
    mov eax, [gp_error]
    CHECK_EQ "gp-busy-tss-error-code", SEL_MAIN
    mov eax, [gp_count]
    CHECK_EQ "gp-task-twice", 2
    clts

    ; ---- a task with its own CR3 ------------------------------------------
    mov dword [0x400000], MAGIC_A
    mov dword [0x800000], MAGIC_B
    mov dword [PD1], 0x00000083         ; 0-4 MiB identity, 4 MiB page
    mov dword [PD1 + 4], 0x00400083     ; 4 MiB -> 4 MiB
    mov dword [PD2], 0x00000083
    mov dword [PD2 + 4], 0x00800083     ; 4 MiB -> 8 MiB
    mov dword [tss_main + TSS_CR3], PD1
    mov dword [tss_pg + TSS_CR3], PD2
    mov eax, cr4
    or eax, CR4_PSE
    mov cr4, eax
    mov eax, PD1
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    call SEL_PG:0
    mov eax, [pg_value]
    CHECK_EQ "cr3-task-sees-its-mapping", MAGIC_B
    mov eax, [pg_cr3]
    CHECK_EQ "cr3-task-cr3", PD2
    mov eax, cr3
    CHECK_EQ "cr3-caller-restored", PD1
    mov eax, [0x400000]
    CHECK_EQ "cr3-caller-mapping", MAGIC_A
    mov eax, cr0
    and eax, ~CR0_PG
    mov cr0, eax
    clts

    ; ---- the same under PAE paging: the new task's PDPTEs come from its CR3 --
    mov dword [PDPT1], PD_A | 1
    mov dword [PDPT2], PD_B | 1
    mov dword [PD_A], 0x00000083        ; 0-2 MiB identity, 2 MiB page
    mov dword [PD_A + 2 * 8], 0x00400083 ; 4 MiB -> 4 MiB
    mov dword [PD_B], 0x00000083
    mov dword [PD_B + 2 * 8], 0x00800083 ; 4 MiB -> 8 MiB
    mov dword [tss_main + TSS_CR3], PDPT1
    mov dword [tss_pg + TSS_CR3], PDPT2
    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, PDPT1
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    call SEL_PG:0
    mov eax, [pg_value]
    CHECK_EQ "pae-task-sees-its-mapping", MAGIC_B
    mov eax, [pg_cr3]
    CHECK_EQ "pae-task-cr3", PDPT2
    mov eax, cr3
    CHECK_EQ "pae-caller-cr3-restored", PDPT1
    mov eax, [0x400000]
    CHECK_EQ "pae-caller-mapping", MAGIC_A
    mov eax, cr0
    and eax, ~CR0_PG
    mov cr0, eax
    mov eax, cr4
    and eax, ~CR4_PAE
    mov cr4, eax
    clts

    mov eax, [failures]
    test eax, eax
    jnz .failed
    mov esi, msg_done
    call xeno_puts32
    XENO_EXIT 0
.failed:
    XENO_EXIT 1

; EAX = busy flags: bit 0 main, bit 1 task 1 (TSS descriptor type bit 1).
busy_bits:
    push ebx
    xor eax, eax
    mov bl, [gdt + SEL_MAIN + 5]
    shr bl, 1
    and bl, 1
    or al, bl
    mov bl, [gdt + SEL_T1 + 5]
    and bl, 2
    or al, bl
    pop ebx
    ret

; ---- task 1: entered by CALL (first time) and by JMP through the gate --------
task1:
    pushfd
    pop dword [t1_flags]
    mov eax, [tss_t1 + TSS_LINK]
    mov [t1_link], eax
    str eax
    mov [t1_tr], eax
    mov [t1_ebx], ebx
    mov eax, cr0
    mov [t1_cr0], eax
    mov eax, [fs:0]             ; FS: task 1's LDT data segment
    mov [t1_ldt_value], eax
    mov ecx, 0xc0ffee01
    iretd
t1_resume:                      ; the JMP through the gate arrives here
    pushfd
    pop dword [t1_jmp_flags]
    call busy_bits
    mov [t1_jmp_busy], eax
    jmp SEL_MAIN:0
    jmp task1                   ; not reached

; ---- the INT 0x40 task: counts, IRET back, and starts here again -------------
int_task:
    inc dword [int_count]
    mov eax, [tss_int + TSS_LINK]
    mov [int_link], eax
    pushfd
    pop dword [int_flags]
    iretd
    jmp int_task

; ---- the #GP task: records the error code, skips the faulting instruction ----
gp_task:
    pop eax                     ; the error code, pushed on this task's stack
    mov [gp_error], eax
    inc dword [gp_count]
    cmp dword [gp_count], 1
    jne .busy_jmp
    add dword [tss_main + TSS_EIP], 2   ; MOV DS, AX
    jmp .back
.busy_jmp:
    add dword [tss_main + TSS_EIP], 7   ; JMP ptr16:32
.back:
    iretd
    jmp gp_task

; ---- the task with its own CR3 ---------------------------------------------
pg_task:
    mov eax, [0x400000]
    mov [pg_value], eax
    mov eax, cr3
    mov [pg_cr3], eax
    iretd
    jmp pg_task

    XENO_PRINT16_ROUTINES
    XENO_PRINT32_ROUTINES
    CHECK_ROUTINES
    bits 32

msg_done: db "tasks: all checks passed", 10, 0

    XENO_FLAT_GDT                ; for the way into protected mode

    align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff       ; 0x08 code
    dq 0x00cf92000000ffff       ; 0x10 data
    TSS_DESC tss_main           ; 0x18
    TSS_DESC tss_t1             ; 0x20
    TASK_GATE SEL_T1            ; 0x28
    TSS_DESC tss_int            ; 0x30
    TSS_DESC tss_gp             ; 0x38
    dw 0x0f, ldt1               ; 0x40 LDT descriptor (type 2), two entries
    db 0, 0x82, 0, 0
    TSS_DESC tss_pg             ; 0x48
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt

    align 8
ldt1:
    dq 0x00cf92100000ffff       ; index 0: data, base LDT_DATA (0x100000)
    dq 0

    align 8
idt:
    times 13 dq 0
    TASK_GATE SEL_GP            ; 13: #GP
    times 0x40 - 14 dq 0
    TASK_GATE SEL_INT           ; 0x40
idt_end:
idt_desc:
    dw idt_end - idt - 1
    dd idt

    align 128                   ; no TSS crosses a page (SDM 7.2.1)
tss_main: TSS32 0, STACK_TOP, SEL_DATA, 0
    align 128
tss_t1:   TSS32 task1, STACK_T1, SEL_LDT_DS, SEL_LDT1
    align 128
tss_int:  TSS32 int_task, STACK_INT, SEL_DATA, 0
    align 128
tss_gp:   TSS32 gp_task, STACK_GP, SEL_DATA, 0
    align 128
tss_pg:   TSS32 pg_task, STACK_PG, SEL_DATA, 0

    align 4
t1_flags:     dd 0
t1_link:      dd 0
t1_tr:        dd 0
t1_ebx:       dd 0
t1_cr0:       dd 0
t1_ldt_value: dd 0
t1_jmp_flags: dd 0
t1_jmp_busy:  dd 0
int_count:    dd 0
int_link:     dd 0
int_flags:    dd 0
gp_error:     dd 0
gp_count:     dd 0
pg_value:     dd 0
pg_cr3:       dd 0
