; emulated-exits: CPUID, RDMSR, WRMSR and RDTSC -- the instructions that
; exit -- in three states, each checked by the guest itself: one line per
; check ("ok <phase>-<check>" or "FAIL <phase>-<check> got=<value>"), then
; two checks across the phases; exit status 0 only if every check passed.
;
;   rm      plain real mode (CS=SS=0). On penryn (virtual-8086 mode) CPUID
;           exits, RDMSR/WRMSR fault (CPL 3) and the hypervisor emulates them.
;   window  protected mode right after MOV CR0 has set PE, before CS and SS
;           are reloaded: both still hold real-mode values and caches (SS =
;           WINDOW_SS, below). Without unrestricted guest (penryn) VMX cannot
;           enter that state, so the hypervisor runs the whole window in its
;           x86 emulator, which executes these instructions as their VM-exit
;           handlers do (realmode_emulate.cpp, exiting_instruction): no CPUID
;           or MSR exit appears in the trace between MOV CR0 and pm32. On
;           skylake the window runs natively and they exit.
;   pm32    ordinary 32-bit protected mode (flat CS 0x08)
;
; The same probe in each: CPUID leaf 0 (vendor "GenuineIntel", max leaf) and
; leaf 1 (ECX.VMX clear, ECX.hypervisor set); CR0.PE as the phase expects;
; RDMSR IA32_EFER (0), WRMSR EFER.NXE and RDMSR back, WRMSR of the old value
; and RDMSR back; RDTSC twice (non-decreasing, the hypervisor's TSC offset
; 1 << 40 included); RDMSR of an MSR nobody implements (0x12345678): #GP(0)
; at that RDMSR, nothing else faulting. Across the phases: each one's first
; RDTSC no earlier than the previous phase's last.
;
; Faults: in real mode through the IVT (vectors 6 and 13 record the fault and
; skip the two-byte instruction; no error code in real mode). In the window
; and in pm32 through a 32-bit IDT loaded before the window: the window's
; #GP gate leads to `window_gp`, which records the frame (error code 0, EIP
; of the RDMSR, CS = 0, the real-mode selector) and, as an IRET to CS 0 in
; protected mode would fault, finishes the mode switch itself: the
; absent-MSR RDMSR is the window's last instruction and its #GP delivery
; loads CS. In pm32 the gate leads to `pm_gp` (record, skip, IRET). Any other
; exception in protected mode, the window included (#UD from an instruction
; the emulator does not know), prints "FAIL unexpected-exception" with the
; vector and the frame, and ends with status 3.
;
; No port I/O in the window: all results are printed in pm32, after it.
%include "xeno.inc"

CODE32      equ 0x08
DATA32      equ 0x10
STACK_TOP   equ 0x7000

IA32_EFER   equ 0xc0000080
EFER_NXE    equ 1 << 11
ABSENT_MSR  equ 0x12345678
TSC_OFFSET_EDX equ 0x100            ; the hypervisor's TSC offset, 1 << 40, as EDX

; The window runs with SS = 0x0003 (base 0x30, the same stack at linear
; STACK_TOP): a real-mode SS whose low two bits, as a selector, are an RPL of
; 3. With CS = SS = 0 the window would not need the emulator: the caches
; real mode leaves (base 0, limit 64 KiB, DPL 0 code and data), selectors 0
; and a busy TR pass VM entry's checks as 16-bit protected mode, and the
; hypervisor enters it after emulating MOV CR0. SS.RPL 3 against CS.RPL
; 0 and SS.DPL 0 does not (SDM Vol. 3C 27.3.1.2, "Guest Segment Registers"),
; so without unrestricted guest the hypervisor emulates from MOV CR0 until SS
; is reloaded: the window, the #GP delivery and window_gp up to pm32's MOV SS.
WINDOW_SS   equ 0x0003

; One phase's record: what its probe read, its faults, and what it expects.
struc R
.cpuid0_eax:   resd 1
.cpuid0_ebx:   resd 1
.cpuid0_edx:   resd 1
.cpuid0_ecx:   resd 1
.cpuid1_ecx:   resd 1
.cr0:          resd 1
.efer0:        resq 1               ; as read first
.efer1:        resq 1               ; after WRMSR efer0 | NXE
.efer2:        resq 1               ; after WRMSR efer0
.tsc0:         resq 1
.tsc1:         resq 1
.faults:       resd 1
.fault_vector: resd 1
.fault_ip:     resd 1
.fault_cs:     resd 1
.fault_error:  resd 1
; fixed at assembly time:
.prefix:       resd 1               ; the phase's name, "rm-" ...
.expect_pe:    resd 1
.expect_ip:    resd 1               ; the absent-MSR RDMSR
.expect_cs:    resd 1               ; CS in the #GP frame
.size:
endstruc

; PHASE_RECORD prefix_label, expect_pe, expect_ip, expect_cs
%macro PHASE_RECORD 4
    istruc R
    at R.fault_vector, dd 0xffffffff
    at R.fault_ip,     dd 0xffffffff
    at R.fault_cs,     dd 0xffffffff
    at R.fault_error,  dd 0
    at R.prefix,       dd %1
    at R.expect_pe,    dd %2
    at R.expect_ip,    dd %3
    at R.expect_cs,    dd %4
    iend
%endmacro

; PROBE ptr: the probe, in 16- or 32-bit code (ptr = di / edi: the record).
; CPUID clobbers EBX, so the record pointer is DI/EDI.
%macro PROBE 1
    mov eax, cr0
    mov [%1 + R.cr0], eax
    xor eax, eax
    xor ecx, ecx
    cpuid
    mov [%1 + R.cpuid0_eax], eax
    mov [%1 + R.cpuid0_ebx], ebx
    mov [%1 + R.cpuid0_edx], edx
    mov [%1 + R.cpuid0_ecx], ecx
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov [%1 + R.cpuid1_ecx], ecx
    mov ecx, IA32_EFER
    rdmsr
    mov [%1 + R.efer0], eax
    mov [%1 + R.efer0 + 4], edx
    mov esi, eax                    ; the old value, for the restore
    mov ebp, edx
    or eax, EFER_NXE
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    mov [%1 + R.efer1], eax
    mov [%1 + R.efer1 + 4], edx
    mov eax, esi
    mov edx, ebp
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    mov [%1 + R.efer2], eax
    mov [%1 + R.efer2 + 4], edx
    rdtsc
    mov [%1 + R.tsc0], eax
    mov [%1 + R.tsc0 + 4], edx
    rdtsc
    mov [%1 + R.tsc1], eax
    mov [%1 + R.tsc1 + 4], edx
%endmacro

; CHECK "name": after a compare, ZF=1 passes; prints "ok <prefix><name>" or
; "FAIL <prefix><name> got=<eax>" (prefix: the string [prefix] points to).
; Registers and flags are preserved.
%macro CHECK 1
    call %%report
    db %1, 0
%%report:
    call check_report
    lea esp, [esp + 4]
%endmacro

; An interrupt gate (SDM Vol. 3A 6.11): present, DPL 0, 32-bit, to CODE32.
; The handlers lie below 64 KiB.
%define ABS(x) ((x) - $$ + 0x8000)
%macro GATE32 1
    dw ABS(%1) & 0xffff, CODE32, 0x8e00, ABS(%1) >> 16
%endmacro

    org 0x8000

; ---- real mode ----------------------------------------------------------------
    bits 16
start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK_TOP              ; ESP's upper half 0: the window's 32-bit handler uses [esp]
    cld
    mov word [6 * 4], rm_ud         ; the IVT: #UD and #GP
    mov word [6 * 4 + 2], 0
    mov word [13 * 4], rm_gp
    mov word [13 * 4 + 2], 0

    mov di, rec_rm
    call probe16
    mov ecx, ABSENT_MSR
rm_absent_rdmsr:
    rdmsr                           ; #GP through IVT 13: rm_gp skips it

; ---- the window: PE set, CS and SS not yet reloaded -------------------------
    lgdt [gdt_desc]
    lidt [idt_desc]                 ; the 32-bit IDT (no interrupt comes before the window)
    mov ax, WINDOW_SS
    mov ss, ax
    mov sp, STACK_TOP - WINDOW_SS * 16
    mov di, rec_window
    mov eax, cr0
    or al, 1
    mov cr0, eax
    ; From here CS, SS, DS, ES hold real-mode caches in protected mode.
    call probe16
    mov ecx, ABSENT_MSR
window_absent_rdmsr:
    rdmsr                           ; #GP through IDT 13 -> window_gp (32-bit), which goes on at pm32
    jmp CODE32:window_no_fault      ; the far jump that would otherwise end the window

probe16:
    PROBE di
    ret

; Real-mode fault handlers: record vector, IP, CS into rec_rm, skip the two
; bytes of the faulting instruction (CPUID, RDMSR, WRMSR, RDTSC).
rm_ud:
    push word 6
    jmp rm_fault
rm_gp:
    push word 13
rm_fault:
    push bp
    push eax
    mov bp, sp                      ; [bp+6] vector, [bp+8] IP, [bp+10] CS
    inc dword [rec_rm + R.faults]
    movzx eax, word [bp + 6]
    mov [rec_rm + R.fault_vector], eax
    movzx eax, word [bp + 8]
    mov [rec_rm + R.fault_ip], eax
    movzx eax, word [bp + 10]
    mov [rec_rm + R.fault_cs], eax
    add word [bp + 8], 2
    pop eax
    pop bp
    add sp, 2
    iret

; ---- 32-bit protected mode ----------------------------------------------------
    bits 32
; The window's #GP: CS = CODE32 from the gate, SS still the real-mode stack
; (WINDOW_SS, base 0x30, 16-bit: the frame is at SP, ESP's upper half is 0).
; Frame: error code, EIP, CS, EFLAGS. DS still has its real-mode cache (base
; 0, limit 64 KiB). On penryn this runs in the emulator too (SS).
window_gp:
    mov eax, [esp]
    mov [rec_window + R.fault_error], eax
    mov eax, [esp + 4]
    mov [rec_window + R.fault_ip], eax
    movzx eax, word [esp + 8]
    mov [rec_window + R.fault_cs], eax
    mov dword [rec_window + R.fault_vector], 13
    inc dword [rec_window + R.faults]
    jmp pm32

window_no_fault:                    ; the absent-MSR RDMSR did not fault (faults stays 0)
pm32:
    mov ax, DATA32
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, STACK_TOP
    mov word [idt + 13 * 8], pm_gp  ; from now on #GP skips the instruction

    mov edi, rec_pm32
    PROBE edi
    mov ecx, ABSENT_MSR
pm32_absent_rdmsr:
    rdmsr                           ; #GP -> pm_gp skips it

    mov ebp, rec_rm
    call check_phase
    mov ebp, rec_window
    call check_phase
    mov ebp, rec_pm32
    call check_phase

    ; The TSC as the three phases read it: each phase no earlier than the last.
    mov dword [prefix], name_none
    mov eax, [rec_window + R.tsc0]
    mov edx, [rec_window + R.tsc0 + 4]
    mov esi, rec_rm + R.tsc1
    call tsc_at_least
    CHECK "rdtsc-window-after-rm"
    mov eax, [rec_pm32 + R.tsc0]
    mov edx, [rec_pm32 + R.tsc0 + 4]
    mov esi, rec_window + R.tsc1
    call tsc_at_least
    CHECK "rdtsc-pm32-after-window"

    cmp dword [failures], 0
    jne .failed
    mov esi, msg_all_passed
    call xeno_puts32
    XENO_EXIT 0
.failed:
    XENO_EXIT 1

; pm32's #GP: record, skip the two-byte instruction.
pm_gp:
    push eax
    mov eax, [esp + 4]
    mov [rec_pm32 + R.fault_error], eax
    mov eax, [esp + 8]
    mov [rec_pm32 + R.fault_ip], eax
    movzx eax, word [esp + 12]
    mov [rec_pm32 + R.fault_cs], eax
    mov dword [rec_pm32 + R.fault_vector], 13
    inc dword [rec_pm32 + R.faults]
    add dword [esp + 8], 2
    pop eax
    add esp, 4                      ; the error code
    iretd

; Any other exception in protected mode (the window included): its vector and
; the two dwords above it (EIP and CS, or the error code and EIP), read
; through the SS it came with (the window's has base 0x30), then flat
; segments, the three printed, and status 3.
%assign vector 0
%rep 32
exception_stub_%[vector]:
    push dword vector
    jmp unexpected_exception
%assign vector vector + 1
%endrep

unexpected_exception:
    mov ebx, [esp]
    mov ecx, [esp + 4]
    mov edx, [esp + 8]
    mov ax, DATA32
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK_TOP
    mov esi, msg_unexpected
    call xeno_puts32
    mov eax, ebx
    call xeno_hex32
    mov al, ' '
    call xeno_putc32
    mov eax, ecx
    call xeno_hex32
    mov al, ' '
    call xeno_putc32
    mov eax, edx
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    XENO_EXIT 3

; ---- checks -------------------------------------------------------------------

; [esp+4]: the name. ZF: the result.
check_report:
    pushfd
    pushad
    jne .fail
    mov esi, msg_ok
    call xeno_puts32
    call .name
    jmp .end
.fail:
    inc dword [failures]
    mov esi, msg_fail
    call xeno_puts32
    call .name
    mov esi, msg_got
    call xeno_puts32
    mov eax, [esp + 28]             ; the saved EAX
    call xeno_hex32
.end:
    mov al, 10
    call xeno_putc32
    popad
    popfd
    ret
.name:                              ; (one more return address on the stack)
    mov esi, [prefix]
    call xeno_puts32
    mov esi, [esp + 4 + 36 + 4]
    jmp xeno_puts32

; EDX:EAX >= the qword at [esi] (unsigned): ZF=1. EAX kept.
tsc_at_least:
    cmp edx, [esi + 4]
    ja .yes
    jb .no
    cmp eax, [esi]
    jae .yes
.no:
    cmp esp, 0                      ; ZF=0
    ret
.yes:
    cmp eax, eax
    ret

; EBP = a phase's record: its checks.
check_phase:
    mov eax, [ebp + R.prefix]
    mov [prefix], eax

    mov eax, [ebp + R.cpuid0_ebx]
    cmp eax, 'Genu'
    jne .vendor
    mov eax, [ebp + R.cpuid0_edx]
    cmp eax, 'ineI'
    jne .vendor
    mov eax, [ebp + R.cpuid0_ecx]
    cmp eax, 'ntel'
.vendor:
    CHECK "cpuid0-vendor"
    mov eax, [ebp + R.cpuid0_eax]
    cmp eax, 1
    jae .max_leaf_ok
    test esp, esp                   ; ZF=0 (ESP is not 0)
    jmp .max_leaf
.max_leaf_ok:
    cmp eax, eax
.max_leaf:
    CHECK "cpuid0-max-leaf"
    mov eax, [ebp + R.cpuid1_ecx]
    test eax, 1 << 5                ; VMX: no nested VMX for the guest
    CHECK "cpuid1-vmx-clear"
    mov eax, [ebp + R.cpuid1_ecx]
    bt eax, 31                      ; hypervisor present
    setnc bl
    test bl, bl
    CHECK "cpuid1-hypervisor-bit"

    mov eax, [ebp + R.cr0]
    mov ebx, eax
    and ebx, 1
    cmp ebx, [ebp + R.expect_pe]
    CHECK "cr0-pe"

    mov eax, [ebp + R.efer0]
    or eax, [ebp + R.efer0 + 4]
    mov eax, [ebp + R.efer0]
    CHECK "efer-read"
    mov eax, [ebp + R.efer1 + 4]
    cmp eax, [ebp + R.efer0 + 4]
    jne .nxe_set
    mov eax, [ebp + R.efer0]
    or eax, EFER_NXE
    cmp eax, [ebp + R.efer1]
    mov eax, [ebp + R.efer1]
.nxe_set:
    CHECK "efer-nxe-set"
    mov eax, [ebp + R.efer2 + 4]
    cmp eax, [ebp + R.efer0 + 4]
    jne .nxe_clear
    mov eax, [ebp + R.efer2]
    cmp eax, [ebp + R.efer0]
.nxe_clear:
    CHECK "efer-restored"

    mov eax, [ebp + R.fault_vector]
    cmp eax, 13
    CHECK "msr-absent-gp"
    mov eax, [ebp + R.fault_ip]
    cmp eax, [ebp + R.expect_ip]
    CHECK "msr-absent-gp-at-rdmsr"
    mov eax, [ebp + R.fault_cs]
    cmp eax, [ebp + R.expect_cs]
    CHECK "msr-absent-gp-frame-cs"
    mov eax, [ebp + R.fault_error]
    test eax, eax
    CHECK "msr-absent-gp-error-code"
    mov eax, [ebp + R.faults]
    cmp eax, 1
    CHECK "no-other-faults"

    mov eax, [ebp + R.tsc1]
    mov edx, [ebp + R.tsc1 + 4]
    lea esi, [ebp + R.tsc0]
    call tsc_at_least
    CHECK "rdtsc-monotonic"
    mov eax, [ebp + R.tsc0 + 4]
    cmp eax, TSC_OFFSET_EDX
    jae .offset_ok
    test esp, esp
    jmp .offset
.offset_ok:
    cmp eax, eax
.offset:
    CHECK "rdtsc-offset"
    ret

    XENO_PRINT32_ROUTINES

; ---- data ---------------------------------------------------------------------
    align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff           ; 0x08: 32-bit code, flat
    dq 0x00cf92000000ffff           ; 0x10: 32-bit data, flat
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt

    align 8
idt:
%assign vector 0
%rep 32
%if vector == 13
    GATE32 window_gp
%else
    GATE32 exception_stub_%[vector]
%endif
%assign vector vector + 1
%endrep
idt_end:
idt_desc:
    dw idt_end - idt - 1
    dd idt

    align 4
rec_rm:     PHASE_RECORD name_rm, 0, rm_absent_rdmsr, 0
rec_window: PHASE_RECORD name_window, 1, window_absent_rdmsr, 0
rec_pm32:   PHASE_RECORD name_pm32, 1, pm32_absent_rdmsr, CODE32
failures:   dd 0
prefix:     dd 0

name_rm:        db "rm-", 0
name_window:    db "window-", 0
name_pm32:      db "pm32-", 0
name_none:      db 0
msg_ok:         db "ok ", 0
msg_fail:       db "FAIL ", 0
msg_got:        db " got=", 0
msg_unexpected: db "FAIL unexpected-exception vector/frame=", 0
; Not "emulated-exits: ...": xeno bochs takes "exits: " anywhere in a COM1 line
; for the start of the hypervisor's stats line (harness/bochs_command.cpp).
msg_all_passed: db "all emulated-exits checks passed", 10, 0
