; xen_evtchn_upcall: an event sent to ourselves and taken as an upcall, for
; xeno-bench's evtchn_send_to_upcall_ns. In 64-bit mode (xen64.inc) the
; guest finds Xen, writes the hypercall page, and then, the way a Linux
; PVHVM guest sets up its events (docs/xen-abi.md):
;   - XENMEM_add_to_physmap(DOMID_SELF, XENMAPSPACE_shared_info, idx 0,
;     gpfn SHINFO >> 12): shared_info (vCPU 0's vcpu_info at its start, the
;     2-level pending and mask words at 0x800 and 0xa00) appears there;
;   - HVMOP_set_param(DOMID_SELF, HVM_PARAM_CALLBACK_IRQ, 2 << 56 |
;     UPCALL_VECTOR): upcalls come as that IDT vector, no local APIC EOI;
;   - EVTCHNOP_bind_ipi(vcpu 0) -> port;
; each result checked (0, and a port in 1..4095). With interrupts on, between
; two newlines (the window xeno-bench times), param0 rounds of:
; EVTCHNOP_send(port) (result 0), then wait until the upcall handler has
; counted it. The handler does what a guest's does: clear
; evtchn_upcall_pending, take the selector (XCHG), and for each selected
; word clear the pending bits that are not masked (LOCK BTR), counting our
; port's and any other. Nothing else raises interrupts here, so the
; handler normally runs as soon as the send's VMCALL returns; `late` counts
; the rounds where it had not yet (the wait loop had to spin). After the
; window it prints "rounds=<hex> upcalls=<hex> port_events=<hex>
; other_events=<hex> late=<hex> port=<hex>" and exits 0. A hypercall result
; other than the documented one ends the run with status 3, an event that
; never arrives (10^6 spins) with status 6.
%include "xen64.inc"

UPCALL_VECTOR   equ 0xf3
SHINFO          equ 0x103000            ; a RAM page (32 MiB), after the page tables
SPIN_LIMIT      equ 1000000

    org 0x8000
    BENCH_HEADER 0, 0, 0, 0
    XENO_ENTER_PM32 enter_long_mode, STACK_TOP

    bits 64
main64:
    call xen_setup
    mov ecx, UPCALL_VECTOR
    mov rax, upcall
    call idt64_set

    ; shared_info at SHINFO.
    mov word [arg + ATP_DOMID], DOMID_SELF
    mov word [arg + ATP_SIZE], 0
    mov dword [arg + ATP_SPACE], XENMAPSPACE_shared_info
    mov qword [arg + ATP_IDX], 0
    mov qword [arg + ATP_GPFN], SHINFO >> 12
    mov edi, XENMEM_add_to_physmap
    mov rsi, arg
    HCALL HYPERVISOR_memory_op
    EXPECT_RAX 0, "XENMEM_add_to_physmap(shared_info)"

    ; Upcalls as UPCALL_VECTOR.
    call zero_arg
    mov word [arg + HP_DOMID], DOMID_SELF
    mov dword [arg + HP_INDEX], HVM_PARAM_CALLBACK_IRQ
    mov rax, (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | UPCALL_VECTOR
    mov [arg + HP_VALUE], rax
    mov edi, HVMOP_set_param
    mov rsi, arg
    HCALL HYPERVISOR_hvm_op
    EXPECT_RAX 0, "HVMOP_set_param(HVM_PARAM_CALLBACK_IRQ, vector 0xf3)"

    ; An IPI channel to vCPU 0: ourselves.
    call zero_arg
    mov dword [arg + BI_VCPU], 0
    mov dword [arg + BI_PORT], 0
    mov edi, EVTCHNOP_bind_ipi
    mov rsi, arg
    HCALL HYPERVISOR_event_channel_op
    EXPECT_RAX 0, "EVTCHNOP_bind_ipi(vcpu 0)"
    mov eax, [arg + BI_PORT]
    mov [port], eax
    test eax, eax
    jz .bad_port
    cmp eax, EVTCHN_2L_NR_PORTS
    jae .bad_port
    ; The upcall handler has not run yet: nothing was pending.
    cmp dword [upcalls], 0
    jne .early

    sti
    mov ebx, [bench_param0]             ; rounds
    xor r12d, r12d                      ; rounds sent
    MARK
    test ebx, ebx
    jz .done
.round:
    mov dword [arg], 0
    mov eax, [port]
    mov [arg], eax
    mov edi, EVTCHNOP_send
    mov rsi, arg
    HCALL HYPERVISOR_event_channel_op
    test rax, rax
    jnz .bad_send
    inc r12d
    cmp [port_events], r12d
    jae .next
    ; Not yet: spin until it comes (or give up).
    inc dword [late]
    mov ecx, SPIN_LIMIT
.wait:
    pause
    cmp [port_events], r12d
    jae .next
    dec ecx
    jnz .wait
    jmp .lost
.next:
    cmp r12d, ebx
    jb .round
.done:
    MARK
    cli
    mov rsi, msg_rounds
    call puts64
    mov eax, r12d
    call hex64
    mov rsi, msg_upcalls
    call puts64
    mov eax, [upcalls]
    call hex64
    mov rsi, msg_port_events
    call puts64
    mov eax, [port_events]
    call hex64
    mov rsi, msg_other_events
    call puts64
    mov eax, [other_events]
    call hex64
    mov rsi, msg_late
    call puts64
    mov eax, [late]
    call hex64
    mov rsi, msg_port
    call puts64
    mov eax, [port]
    call hex64
    mov al, 10
    call putc64
    XENO_EXIT 0

.bad_send:
    xor edx, edx
    mov rsi, msg_send
    jmp fail64
.bad_port:
    mov rsi, msg_bad_port
    call puts64
    call hex64
    mov al, 10
    call putc64
    XENO_EXIT EXIT_BAD_RETURN
.early:
    mov rsi, msg_early
    call puts64
    XENO_EXIT EXIT_UNEXPECTED
.lost:
    cli
    mov rsi, msg_lost
    call puts64
    mov eax, r12d
    call hex64
    mov rsi, msg_pending
    call puts64
    movzx eax, byte [SHINFO + VI_UPCALL_PENDING]
    call hex64
    mov al, 10
    call putc64
    XENO_EXIT EXIT_NO_UPCALL

; The upcall (HVM_PARAM_CALLBACK_IRQ's vector: no EOI).
upcall:
    push rax
    push rcx
    push rdx
    push r8
    push r9
    inc dword [upcalls]
    mov byte [SHINFO + VI_UPCALL_PENDING], 0
    xor eax, eax
    xchg [SHINFO + VI_PENDING_SEL], rax
    mov r8, rax                         ; words with pending ports
.word:
    bsf rcx, r8
    jz .out
    btr r8, rcx
    mov r9, [SHINFO + SI_EVTCHN_MASK + rcx * 8]
    not r9
    and r9, [SHINFO + SI_EVTCHN_PENDING + rcx * 8]
.bit:
    bsf rdx, r9
    jz .word
    btr r9, rdx
    lock btr [SHINFO + SI_EVTCHN_PENDING + rcx * 8], rdx
    mov rax, rcx
    shl rax, 6
    add rax, rdx                        ; the port
    cmp eax, [port]
    jne .other
    inc dword [port_events]
    jmp .bit
.other:
    inc dword [other_events]
    jmp .bit
.out:
    pop r9
    pop r8
    pop rdx
    pop rcx
    pop rax
    iretq

zero_arg:
    push rax
    push rcx
    push rdi
    mov rdi, arg
    mov ecx, 4
    xor eax, eax
    rep stosq
    pop rdi
    pop rcx
    pop rax
    ret

msg_send:         db "EVTCHNOP_send(our IPI port)", 0
msg_bad_port:     db "xen bench: FAIL EVTCHNOP_bind_ipi gave port ", 0
msg_early:        db "xen bench: FAIL an upcall arrived before any event was sent", 10, 0
msg_lost:         db "xen bench: FAIL no upcall for the event sent in round ", 0
msg_pending:      db " evtchn_upcall_pending=", 0
msg_rounds:       db "rounds=", 0
msg_upcalls:      db " upcalls=", 0
msg_port_events:  db " port_events=", 0
msg_other_events: db " other_events=", 0
msg_late:         db " late=", 0
msg_port:         db " port=", 0
    align 8
arg:            times 32 db 0
port:           dd 0
upcalls:        dd 0
port_events:    dd 0
other_events:   dd 0
late:           dd 0

    XEN64_ROUTINES
