; cpuid-msr-tsc: the guest checks what the hypervisor shows it through CPUID,
; RDMSR/WRMSR and RDTSC, one line per check ("ok <name>" or
; "FAIL <name> <details>"), and exits with status 0 only if all pass.
;
; Starts in real mode at 0x8000 (CS=0) like hello, enters 32-bit protected
; mode and loads an IDT: #UD and #GP record the fault and skip the faulting
; instruction (all the instructions that may fault here are two-byte 0F xx
; opcodes); any other exception prints a FAIL line and exits with status 3.
%include "xeno.inc"

SPIN_ITERATIONS  equ 100000        ; 2 instructions each (dec, jnz)
EXPECTED_FAULTS  equ 3             ; the two RDMSRs of absent MSRs, the WRMSR of a reserved MTRR type
TSC_OFFSET_EDX   equ 0x100         ; the hypervisor's TSC offset, 1 << 40, as EDX of a TSC value

IA32_APIC_BASE    equ 0x1b
IA32_SYSENTER_CS  equ 0x174
MSR_MTRRCAP        equ 0xfe
MSR_MTRR_PHYSBASE0 equ 0x200
MTRR_BASE_VALUE    equ 0x80000006  ; 2 GiB, write-back
ABSENT_MSR_HIGH   equ 0xc0001234   ; inside the MSR bitmap's high range, implemented by nobody
ABSENT_MSR_BEYOND equ 0x00002000   ; just past the bitmap's low range: RDMSR always exits (SDM Vol. 3C, 25.1.3)
SYSENTER_CS_VALUE equ 0x0000beef

    org 0x8000

start:
    XENO_ENTER_PM32 main, 0x8000

    bits 32
main:
    call setup_idt
    call check_vendor
    call check_leaf1
    call check_no_thermal
    call check_xen_leaves
    call check_sysenter_cs
    call check_apic_base
    call check_absent_msrs
    call check_mtrrs
    call check_tsc
    call check_faults

    cmp dword [failures], 0
    jne .failed
    mov esi, msg_all_passed
    call xeno_puts32
    XENO_EXIT 0
.failed:
    XENO_EXIT 1

; ---- reporting -------------------------------------------------------------

; ESI: check name. Prints "ok <name>\n".
report_ok:
    push esi
    mov esi, msg_ok
    call xeno_puts32
    pop esi
    call xeno_puts32
    jmp newline

; ESI: check name. Prints "FAIL <name>" and counts the failure; the caller
; adds details with print_field and ends the line with newline.
report_fail:
    inc dword [failures]
    push esi
    mov esi, msg_fail
    call xeno_puts32
    pop esi
    jmp xeno_puts32

; ESI: label (e.g. "ecx="), EAX: value. Prints " <label>0x<8 hex digits>".
print_field:
    push eax
    mov al, ' '
    call xeno_putc32
    call xeno_puts32
    mov esi, msg_hex_prefix
    call xeno_puts32
    pop eax
    jmp xeno_hex32

newline:
    push eax
    mov al, 10
    call xeno_putc32
    pop eax
    ret

; ---- CPUID -----------------------------------------------------------------

check_vendor:
    xor eax, eax
    cpuid
    mov [max_leaf], eax
    mov [vendor], ebx           ; the vendor string is EBX, EDX, ECX
    mov [vendor + 4], edx
    mov [vendor + 8], ecx
    mov esi, name_vendor
    cmp ebx, 'Genu'
    jne .bad
    cmp edx, 'ineI'
    jne .bad
    cmp ecx, 'ntel'
    jne .bad
    call report_ok
    jmp .max_leaf
.bad:
    call report_fail
    mov esi, msg_vendor_is
    call xeno_puts32
    mov esi, vendor
    call xeno_puts32
    call newline
.max_leaf:
    mov esi, name_max_leaf
    cmp dword [max_leaf], 1
    jb .bad_leaf
    jmp report_ok
.bad_leaf:
    call report_fail
    mov esi, label_eax
    mov eax, [max_leaf]
    call print_field
    jmp newline

check_leaf1:
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov [leaf1_ecx], ecx
    mov esi, name_vmx_clear
    test ecx, 1 << 5            ; CPUID.1:ECX.VMX: the guest gets no nested VMX
    jnz .vmx_set
    call report_ok
    jmp .hypervisor
.vmx_set:
    call report_fail
    mov esi, label_ecx
    mov eax, [leaf1_ecx]
    call print_field
    call newline
.hypervisor:
    mov esi, name_hypervisor_bit
    test dword [leaf1_ecx], 1 << 31     ; CPUID.1:ECX bit 31: running under a hypervisor
    jz .no_hypervisor
    jmp report_ok
.no_hypervisor:
    call report_fail
    mov esi, label_ecx
    mov eax, [leaf1_ecx]
    call print_field
    jmp newline

; CPUID.1:EDX ACPI (bit 22) and TM (bit 29): the thermal monitor's MSRs
; are not virtualized, so the guest is not told about them (exit_cpuid.cpp).
check_no_thermal:
    mov eax, 1
    xor ecx, ecx
    cpuid
    mov esi, name_no_thermal
    test edx, (1 << 22) | (1 << 29)
    jnz .bad
    jmp report_ok
.bad:
    call report_fail
    mov esi, label_edx
    mov eax, edx
    call print_field
    jmp newline

check_xen_leaves:
    mov eax, 0x40000000         ; Xen's leaves: signature and the highest Xen leaf
    xor ecx, ecx
    cpuid
    mov [xen_max_leaf], eax
    mov [signature], ebx        ; the signature is EBX, ECX, EDX
    mov [signature + 4], ecx
    mov [signature + 8], edx
    mov esi, name_xen_signature
    cmp ebx, 'XenV'
    jne .bad
    cmp ecx, 'MMXe'
    jne .bad
    cmp edx, 'nVMM'
    jne .bad
    call report_ok
    jmp .max_leaf
.bad:
    call report_fail
    mov esi, msg_signature_is
    call xeno_puts32
    mov esi, signature
    call xeno_puts32
    call newline
.max_leaf:
    mov esi, name_xen_max_leaf
    cmp dword [xen_max_leaf], 0x40000001
    jb .bad_leaf
    jmp report_ok
.bad_leaf:
    call report_fail
    mov esi, label_eax
    mov eax, [xen_max_leaf]
    call print_field
    jmp newline

; ---- MSRs ------------------------------------------------------------------

; IA32_SYSENTER_CS: the MSR bitmap passes it through, so WRMSR then RDMSR
; must give back the value without a fault.
check_sysenter_cs:
    mov ebx, [fault_count]
    mov ecx, IA32_SYSENTER_CS
    mov eax, SYSENTER_CS_VALUE
    xor edx, edx
    wrmsr
    xor eax, eax
    mov edx, 0xffffffff
    rdmsr
    mov esi, name_sysenter_cs
    cmp [fault_count], ebx
    jne .bad
    cmp eax, SYSENTER_CS_VALUE
    jne .bad
    test edx, edx
    jne .bad
    jmp report_ok
.bad:
    push eax
    call report_fail
    mov esi, label_edx
    mov eax, edx
    call print_field
    pop eax
    mov esi, label_eax
    call print_field
    mov esi, label_faults
    mov eax, [fault_count]
    sub eax, ebx
    call print_field
    jmp newline

; IA32_APIC_BASE exits and the hypervisor answers: base 0xfee00000, global
; enable (bit 11), bootstrap processor (bit 8). SDM Vol. 3A, 11.4.4.
check_apic_base:
    mov ebx, [fault_count]
    mov ecx, IA32_APIC_BASE
    xor eax, eax
    xor edx, edx
    rdmsr
    mov esi, name_apic_base
    cmp [fault_count], ebx
    jne .bad
    cmp eax, 0xfee00900
    jne .bad
    test edx, edx
    jne .bad
    jmp report_ok
.bad:
    push eax
    call report_fail
    mov esi, label_edx
    mov eax, edx
    call print_field
    pop eax
    mov esi, label_eax
    call print_field
    jmp newline

; RDMSR of an MSR nobody implements raises #GP(0) in the guest.
check_absent_msrs:
    mov ecx, ABSENT_MSR_HIGH
    mov esi, name_absent_high
    call expect_rdmsr_gp
    mov ecx, ABSENT_MSR_BEYOND
    mov esi, name_absent_beyond
    ; fall through

; ECX: MSR, ESI: check name.
expect_rdmsr_gp:
    mov dword [fault_vector], 0xffffffff
    mov dword [fault_error], 0xffffffff
    rdmsr
    cmp dword [fault_vector], 13
    jne .bad
    cmp dword [fault_error], 0
    jne .bad
    jmp report_ok
.bad:
    call report_fail
    mov esi, label_vector
    mov eax, [fault_vector]
    call print_field
    mov esi, label_error
    mov eax, [fault_error]
    call print_field
    jmp newline

; The MTRRs that MTRRcap announces (8 variable ranges) exist and keep a
; value; a reserved memory type (2) in PHYSBASE is #GP(0), value unchanged.
check_mtrrs:
    mov ebx, [fault_count]
    mov ecx, MSR_MTRRCAP
    rdmsr
    mov esi, name_mtrr_roundtrip
    cmp al, 8
    jne .bad
    mov ecx, MSR_MTRR_PHYSBASE0
    mov eax, MTRR_BASE_VALUE
    xor edx, edx
    wrmsr
    xor eax, eax
    mov edx, 0xffffffff
    rdmsr
    cmp [fault_count], ebx
    jne .bad
    cmp eax, MTRR_BASE_VALUE
    jne .bad
    test edx, edx
    jne .bad
    call report_ok
    jmp .reserved
.bad:
    call report_fail
    mov esi, label_eax
    call print_field
    call newline
.reserved:
    mov dword [fault_vector], 0xffffffff
    mov dword [fault_error], 0xffffffff
    mov ecx, MSR_MTRR_PHYSBASE0
    mov eax, (MTRR_BASE_VALUE & ~0xff) | 2
    xor edx, edx
    wrmsr
    mov esi, name_mtrr_reserved_gp
    cmp dword [fault_vector], 13
    jne .bad_reserved
    cmp dword [fault_error], 0
    jne .bad_reserved
    mov ecx, MSR_MTRR_PHYSBASE0
    rdmsr
    cmp eax, MTRR_BASE_VALUE
    jne .bad_reserved
    jmp report_ok
.bad_reserved:
    call report_fail
    mov esi, label_vector
    mov eax, [fault_vector]
    call print_field
    jmp newline

check_faults:
    mov esi, name_faults
    cmp dword [fault_count], EXPECTED_FAULTS
    jne .bad
    jmp report_ok
.bad:
    call report_fail
    mov esi, label_faults
    mov eax, [fault_count]
    call print_field
    jmp newline

; ---- TSC -------------------------------------------------------------------

check_tsc:
    rdtsc
    mov [tsc0], eax
    mov [tsc0 + 4], edx
    rdtsc
    mov [tsc1], eax
    mov [tsc1 + 4], edx

    ; The second read is later than the first (64-bit unsigned compare).
    mov esi, name_tsc_monotonic
    mov eax, [tsc1 + 4]
    cmp eax, [tsc0 + 4]
    ja .monotonic
    jb .not_monotonic
    mov eax, [tsc1]
    cmp eax, [tsc0]
    ja .monotonic
.not_monotonic:
    call report_fail
    mov esi, label_first
    mov eax, [tsc0 + 4]
    call print_field
    mov eax, [tsc0]
    call xeno_hex32
    mov esi, label_second
    mov eax, [tsc1 + 4]
    call print_field
    mov eax, [tsc1]
    call xeno_hex32
    call newline
    jmp .offset
.monotonic:
    call report_ok

.offset:
    ; The hypervisor adds TSC_OFFSET = 1 << 40, so the TSC reads at least that.
    mov esi, name_tsc_offset
    cmp dword [tsc0 + 4], TSC_OFFSET_EDX
    jb .no_offset
    call report_ok
    jmp .counting
.no_offset:
    call report_fail
    mov esi, label_tsc
    mov eax, [tsc0 + 4]
    call print_field
    mov eax, [tsc0]
    call xeno_hex32
    call newline

.counting:
    ; Virtual time counts guest instructions: 2 * SPIN_ITERATIONS
    ; instructions between two reads advance the TSC by at least as much.
    rdtsc
    mov [tsc0], eax
    mov [tsc0 + 4], edx
    mov ecx, SPIN_ITERATIONS
.spin:
    dec ecx
    jnz .spin
    rdtsc
    sub eax, [tsc0]
    sbb edx, [tsc0 + 4]
    mov esi, name_tsc_counts
    test edx, edx
    jnz .counts
    cmp eax, 2 * SPIN_ITERATIONS
    jae .counts
    call report_fail
    mov esi, label_delta
    call print_field
    jmp newline
.counts:
    jmp report_ok

; ---- exceptions ------------------------------------------------------------

setup_idt:
    mov edi, idt
    mov esi, exception_stubs
    mov ecx, 32
.gate:
    lodsd
    call set_gate
    loop .gate
    mov edi, idt + 6 * 8
    mov eax, ud_handler
    call set_gate
    mov edi, idt + 13 * 8
    mov eax, gp_handler
    call set_gate
    lidt [idt_desc]
    ret

; EDI: the gate, EAX: the handler. A 32-bit interrupt gate, present, DPL 0
; (SDM Vol. 3A, 6.11, Figure 6-2). Advances EDI to the next gate.
set_gate:
    mov [edi], ax                       ; offset 15:0
    mov word [edi + 2], XENO_CODE32_SEL ; segment selector
    mov word [edi + 4], 0x8e00          ; P=1, DPL=0, type 0xe (32-bit interrupt gate)
    shr eax, 16
    mov [edi + 6], ax                   ; offset 31:16
    add edi, 8
    ret

; #GP pushes an error code (SDM Vol. 3A, 6.13); #UD does not.
gp_handler:
    push eax
    mov eax, [esp + 4]
    mov [fault_error], eax
    mov dword [fault_vector], 13
    pop eax
    add esp, 4                  ; drop the error code: IRET finds EIP on top
    jmp skip_faulting
ud_handler:
    mov dword [fault_vector], 6
    mov dword [fault_error], 0
skip_faulting:
    inc dword [fault_count]
    push eax
    mov eax, [esp + 4]          ; the faulting instruction's EIP
    cmp byte [eax], 0x0f        ; RDMSR, WRMSR, RDTSC, CPUID: all 0F xx
    jne .unknown
    add dword [esp + 4], 2
    pop eax
    iretd
.unknown:
    mov esi, name_unexpected
    call report_fail
    mov esi, label_vector
    mov eax, [fault_vector]
    call print_field
    mov esi, label_eip
    mov eax, [esp + 4]
    call print_field
    call newline
    XENO_EXIT 3

; Any other exception: its vector, then stop.
unexpected_exception:
    mov esi, name_unexpected
    call report_fail
    mov esi, label_vector
    mov eax, [esp]
    call print_field
    call newline
    XENO_EXIT 3

%assign vector 0
%rep 32
exception_stub_%[vector]:
    push dword vector
    jmp unexpected_exception
%assign vector vector + 1
%endrep

    align 4
exception_stubs:
%assign vector 0
%rep 32
    dd exception_stub_%[vector]
%assign vector vector + 1
%endrep

    XENO_PRINT32_ROUTINES
    XENO_FLAT_GDT

; ---- data ------------------------------------------------------------------

    align 8
idt:
    times 32 * 8 db 0
idt_desc:
    dw 32 * 8 - 1
    dd idt

    align 4
failures:     dd 0
fault_count:  dd 0
fault_vector: dd 0
fault_error:  dd 0
max_leaf:     dd 0
xen_max_leaf: dd 0
leaf1_ecx:    dd 0
tsc0:         dq 0
tsc1:         dq 0
vendor:       times 13 db 0
signature:    times 13 db 0

msg_ok:             db "ok ", 0
msg_fail:           db "FAIL ", 0
msg_hex_prefix:     db "0x", 0
msg_vendor_is:      db " vendor=", 0
msg_signature_is:   db " signature=", 0
msg_all_passed:     db "cpuid-msr-tsc: all checks passed", 10, 0
label_eax:          db "eax=", 0
label_ecx:          db "ecx=", 0
label_edx:          db "edx=", 0
label_vector:       db "vector=", 0
label_error:        db "error=", 0
label_eip:          db "eip=", 0
label_faults:       db "faults=", 0
label_first:        db "first=", 0
label_second:       db "second=", 0
label_tsc:          db "tsc=", 0
label_delta:        db "delta=", 0

name_vendor:         db "cpuid0-vendor", 0
name_max_leaf:       db "cpuid0-max-leaf", 0
name_vmx_clear:      db "cpuid1-vmx-clear", 0
name_hypervisor_bit: db "cpuid1-hypervisor-bit", 0
name_xen_signature:  db "cpuid-xen-signature", 0
name_xen_max_leaf:   db "cpuid-xen-max-leaf", 0
name_sysenter_cs:    db "msr-sysenter-cs-roundtrip", 0
name_apic_base:      db "msr-apic-base", 0
name_absent_high:    db "msr-absent-high-gp", 0
name_no_thermal:     db "cpuid1-no-thermal-msrs", 0
name_mtrr_roundtrip: db "msr-mtrr-roundtrip", 0
name_mtrr_reserved_gp: db "msr-mtrr-reserved-type-gp", 0
name_absent_beyond:  db "msr-absent-beyond-bitmap-gp", 0
name_faults:         db "no-unexpected-faults", 0
name_tsc_monotonic:  db "rdtsc-monotonic", 0
name_tsc_offset:     db "rdtsc-offset", 0
name_tsc_counts:     db "rdtsc-counts-instructions", 0
name_unexpected:     db "unexpected-exception", 0
