; xen_hypercall: the round trip of a trivial Xen hypercall, for xeno-bench's
; hypercall_ns. In 64-bit mode (xen64.inc) the guest finds Xen (CPUID
; 0x40000000), writes the hypercall page through the MSR leaf 0x40000002
; names, then between three newlines (the windows xeno-bench times):
;   window 1: param0 calls of xen_version(XENVER_version, NULL) through the
;             hypercall page (`mov eax, 17; vmcall; ret`), each result
;             checked against 0x00040013 (docs/xen-abi.md);
;   window 2: the same loop calling a stub in the guest's own memory that
;             has the page stub's shape without the VMCALL
;             (`mov eax, 0x00040013; 3-byte nop; ret`): the loop's own cost.
; The TSC is read at each newline; after the windows the guest prints
; "calls=<hex> hcall_tsc=<hex> loop_tsc=<hex> tsc_khz=<hex>" (the TSC ticks
; of each window and the guest TSC's frequency from CPUID 0x40000003) and
; exits 0. A result other than 0x00040013 is reported ("xen bench: FAIL
; ...") and ends the run with status 3.
%include "xen64.inc"

    org 0x8000
    BENCH_HEADER 0, 0, 0, 0
    XENO_ENTER_PM32 enter_long_mode, STACK_TOP

    bits 64
main64:
    call xen_setup
    ; One checked call before the windows (its translation, too).
    mov edi, XENVER_version
    xor esi, esi
    HCALL HYPERVISOR_xen_version
    EXPECT_RAX XEN_VERSION_EXPECTED, "xen_version(XENVER_version)"
    mov eax, XEN_CPUID_BASE + 3
    xor ecx, ecx
    cpuid
    mov [tsc_khz], ecx

    mov ebx, [bench_param0]             ; calls
    MARK
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r12, rax
    test ebx, ebx
    jz .hcall_done
.hcall:
    mov edi, XENVER_version
    xor esi, esi
    HCALL HYPERVISOR_xen_version
    cmp rax, XEN_VERSION_EXPECTED
    jne .bad
    dec ebx
    jnz .hcall
.hcall_done:
    MARK
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r13, rax
    mov ebx, [bench_param0]
    test ebx, ebx
    jz .loop_done
.loop:
    mov edi, XENVER_version
    xor esi, esi
    call fake_stub
    cmp rax, XEN_VERSION_EXPECTED
    jne .bad
    dec ebx
    jnz .loop
.loop_done:
    MARK
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov r14, rax

    mov rsi, msg_calls
    call puts64
    mov eax, [bench_param0]
    call hex64
    mov rsi, msg_hcall_tsc
    call puts64
    mov rax, r13
    sub rax, r12
    call hex64
    mov rsi, msg_loop_tsc
    call puts64
    mov rax, r14
    sub rax, r13
    call hex64
    mov rsi, msg_tsc_khz
    call puts64
    mov eax, [tsc_khz]
    call hex64
    mov al, 10
    call putc64
    XENO_EXIT 0

.bad:
    mov edx, XEN_VERSION_EXPECTED
    mov rsi, msg_in_loop
    jmp fail64

; The page stub's shape (xen-abi.md: b8 n n n n 0f 01 c1 c3) with the
; VMCALL a 3-byte NOP and EAX already the answer.
    align 32
fake_stub:
    mov eax, XEN_VERSION_EXPECTED
    nop dword [rax]                     ; 0f 1f 00
    ret

msg_in_loop:    db "xen_version(XENVER_version) in the timed loop", 0
msg_calls:      db "calls=", 0
msg_hcall_tsc:  db " hcall_tsc=", 0
msg_loop_tsc:   db " loop_tsc=", 0
msg_tsc_khz:    db " tsc_khz=", 0
    align 4
tsc_khz:        dd 0

    XEN64_ROUTINES
