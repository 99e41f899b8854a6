; xa_smp.asm: the second vCPU. The BSP starts it with INIT-SIPI-SIPI (PVH
; guests have no VCPUOP_up); it goes from real mode at TRAMPOLINE through
; protected mode into long mode on the BSP's page tables and IDT, then:
; its CPUID vCPU id, its own vcpu_info (register_vcpu_info for vCPU 1), a
; per-vCPU upcall vector through its local APIC
; (HVMOP_set_evtchn_upcall_vector), an IPI port bound to it (bind_ipi),
; its runstate; then both vCPUs take turns reading their pvclocks under a
; lock, each reading no earlier than the one before it, whichever vCPU
; made it; then the BSP sends to the AP's IPI port and moves the loopback
; port to vCPU 1 (bind_vcpu) and sends on its peer. The AP reports through
; memory (ap_* variables) and the BSP prints the checks, so the console
; does not depend on how the vCPUs interleave. Both wait by spinning with
; IF=1 (no exits in the loops, as scenarios/smp does), so each vCPU's own
; exits do not depend on the interleaving either.
    bits 64

CLOCK_ROUNDS        equ 400             ; lock-step pvclock readings per vCPU
CLOCK_GAP           equ 1000            ; spin iterations between a vCPU's readings
AP_TIMEOUT          equ 1 << 27         ; spin iterations before a wait gives up
ICR_INIT            equ 0x4500          ; level assert, INIT
ICR_STARTUP         equ 0x4600          ; level assert, start-up

; RBX = a dword, EAX = a value: spin until [RBX] >= EAX (unsigned), or give
; up after AP_TIMEOUT rounds (the check after it fails then).
wait_at_least:
    push rcx
    mov ecx, AP_TIMEOUT
.again:
    cmp [rbx], eax
    jae .done
    pause
    dec ecx
    jnz .again
.done:
    pop rcx
    ret

; EDI = this vCPU: CLOCK_ROUNDS readings, each under clock_lock, compared
; with the last reading either vCPU made (clock_last).
clock_rounds:
    push r12
    push r13
    mov r13d, edi
    mov r12d, CLOCK_ROUNDS
.round:
    mov eax, 1
    xchg eax, [clock_lock]
    test eax, eax
    jz .held
    pause
    jmp .round
.held:
    mov rsi, [vcpu_info_ptr + r13 * 8]
    add rsi, VI_TIME
    call pvclock_read
    cmp rax, [clock_last]
    jae .forward
    inc dword [clock_backwards]
    jmp .release
.forward:
    mov [clock_last], rax
.release:
    inc dword [clock_rounds_done]
    mov dword [clock_lock], 0
    mov ecx, CLOCK_GAP
    call spin64
    dec r12d
    jnz .round
    pop r13
    pop r12
    ret

test_smp:
    ; The AP's real-mode start: a page-aligned trampoline below 1 MiB.
    mov rsi, ap_trampoline
    mov rdi, TRAMPOLINE
    mov ecx, ap_trampoline_end - ap_trampoline
    rep movsb
    mov r15, XENO_LAPIC
    mov dword [r15 + XENO_APIC_SVR], 0x1ff       ; software enable, spurious 0xff
    mov dword [r15 + XENO_APIC_ICR_HIGH], 1 << 24 ; APIC ID 1
    mov dword [r15 + XENO_APIC_ICR_LOW], ICR_INIT
    mov ecx, 100000
    call spin64
    mov dword [r15 + XENO_APIC_ICR_LOW], ICR_STARTUP | (TRAMPOLINE >> 12)
    mov ecx, 20000
    call spin64
    mov dword [r15 + XENO_APIC_ICR_LOW], ICR_STARTUP | (TRAMPOLINE >> 12)
    sti                                 ; spin waits with IF=1 (scenarios/smp)
    mov rbx, ap_stage
    mov eax, 1
    call wait_at_least
    cli
    mov eax, [ap_stage]
    cmp eax, 1                          ; (it may be on its pvclock rounds already)
    ZF_IF ae
    CHECK64 "smp-ap-started-in-long-mode"
    mov eax, [ap_vcpu_id]
    cmp eax, 1
    CHECK64 "smp-ap-cpuid-leaf4-vcpu-id-1"
    mov rax, [ap_rc_register]
    CHECK_RAX 0, "smp-ap-register-vcpu-info"
    mov rax, [ap_rc_vector]
    CHECK_RAX 0, "smp-ap-set-evtchn-upcall-vector-0xf4"
    mov rax, [ap_rc_ipi]
    CHECK_RAX 0, "smp-ap-bind-ipi-vcpu-1"
    mov rax, [ap_runstate_rc]
    test rax, rax
    jnz .runstate
    mov eax, [ap_runstate_state]
    cmp eax, RUNSTATE_running
.runstate:
    CHECK64 "smp-ap-get-runstate-info-running"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_is_up, 1, 0
    CHECK_RAX 1, "vcpu-is-up-1-after-init-sipi-sipi"

    sti
    xor edi, edi
    call clock_rounds
    mov rbx, ap_stage
    mov eax, 2
    call wait_at_least
    cli
    mov eax, [clock_rounds_done]
    cmp eax, 2 * CLOCK_ROUNDS
    CHECK64 "smp-pvclock-rounds-on-both-vcpus"
    mov eax, [clock_backwards]
    test eax, eax
    CHECK64 "smp-pvclock-never-backwards-across-vcpus"
    mov eax, [pvclock_stuck]
    test eax, eax
    CHECK64 "smp-pvclock-version-protocol-settles"

    ; The balloon while vCPU 1 runs the guest (it spins at ap_stage 2; under
    ; EPT in Bochs on its own processor, which must drop its translation of
    ; the frame before the frame is freed: physmap.hpp).
    BALLOON XENMEM_decrease_reservation, BALLOON_PAGE, 0
    CHECK_RAX 1, "smp-balloon-decrease-while-vcpu-1-runs"
    mov rax, [BALLOON_PAGE]
    CHECK_RAX -1, "smp-balloon-page-taken-reads-all-ones"
    BALLOON XENMEM_populate_physmap, BALLOON_PAGE, 0
    CHECK_RAX 1, "smp-balloon-populate-while-vcpu-1-runs"
    mov rax, [BALLOON_PAGE]
    CHECK_RAX 0, "smp-balloon-page-back-zeroed"

    ; An IPI to vCPU 1: its upcall, through its local APIC vector. (The
    ; port may be one vCPU 0 used before and closed: its counts there are
    ; compared with what they were.)
    mov edx, [ap_ipi_port]
    and edx, 63
    mov r12d, [port_count + rdx * 4]
    EVTCHN_PORT_OP EVTCHNOP_send, [ap_ipi_port]
    CHECK_RAX 0, "smp-send-to-vcpu-1-ipi-port"
    sti
    mov rbx, ap_stage
    mov eax, 3
    call wait_at_least
    cli
    mov edx, [ap_ipi_port]
    and edx, 63
    mov eax, [port_count + 64 * 4 + rdx * 4]
    cmp eax, 1
    jne .ipi
    mov eax, [port_count + rdx * 4]
    cmp eax, r12d
.ipi:
    CHECK64 "smp-ipi-upcall-on-vcpu-1-only"
    mov eax, [vector_upcalls + 4]
    test eax, eax
    jz .vec0
    mov eax, [vector_upcalls]
    test eax, eax
    jmp .vec
.vec0:
    test rsp, rsp
.vec:
    CHECK64 "smp-vcpu-1-upcall-vector-through-its-local-apic"

    ; bind_vcpu: the loopback's port A notifies vCPU 1 now.
    mov eax, [port_a]
    mov byte [port_vcpu + rax], 1
    BIND_VCPU [port_a], 1
    CHECK_RAX 0, "evtchn-bind-vcpu-loopback-port-to-vcpu-1"
    mov esi, [port_a]
    call evtchn_status_self
    test rax, rax
    jnz .moved
    mov eax, [arg + ES_VCPU]
    cmp eax, 1
.moved:
    CHECK64 "evtchn-status-port-on-vcpu-1"
    PORT_COUNT0 port_a
    mov r12d, eax
    EVTCHN_PORT_OP EVTCHNOP_send, [port_b]
    sti
    mov rbx, ap_stage
    mov eax, 4
    call wait_at_least
    cli
    mov edx, [port_a]
    mov eax, [port_count + 64 * 4 + rdx * 4]
    cmp eax, 1
    jne .bound
    PORT_COUNT0 port_a
    cmp eax, r12d
.bound:
    CHECK64 "smp-send-reaches-the-vcpu-the-port-is-bound-to"
    BIND_VCPU [port_a], 0
    CHECK_RAX 0, "evtchn-bind-vcpu-back-to-vcpu-0"
    mov eax, [port_a]
    mov byte [port_vcpu + rax], 0

    ; VCPUOP_down: vCPU 1 (halted in its idle loop) goes offline and takes
    ; no interrupt; VCPUOP_up brings it back, and the upcall that waited in
    ; its local APIC arrives.
    HCALL HYPERVISOR_vcpu_op, VCPUOP_down, 1, 0
    CHECK_RAX 0, "vcpu-down-vcpu-1"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_is_up, 1, 0
    CHECK_RAX 0, "vcpu-is-up-0-while-down"
    mov r12d, [vector_upcalls + 4]
    EVTCHN_PORT_OP EVTCHNOP_send, [ap_ipi_port]
    CHECK_RAX 0, "smp-send-to-vcpu-1-while-down"
    sti
    mov ecx, 200000                     ; a while, without exits
.down_wait:
    dec ecx
    jnz .down_wait
    cli
    mov eax, [vector_upcalls + 4]
    cmp eax, r12d
    CHECK64 "vcpu-down-takes-no-upcall"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_up, 1, 0
    CHECK_RAX 0, "vcpu-up-vcpu-1-again"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_is_up, 1, 0
    CHECK_RAX 1, "vcpu-is-up-1-after-up"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_up, 1, 0
    CHECK_RAX 0, "vcpu-up-of-a-running-vcpu-nothing-to-do"
    sti
    mov rbx, vector_upcalls + 4
    lea eax, [r12d + 1]
    call wait_at_least
    cli
    mov eax, [vector_upcalls + 4]
    cmp eax, r12d
    ZF_IF a
    CHECK64 "vcpu-up-resumes-it-and-it-takes-its-upcall"
    ret

; ---- EVTCHNOP_reset ----
test_evtchn_reset:
    mov word [arg], OTHER_DOMID
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_reset, arg
    CHECK_RAX -XEN_ESRCH, "evtchn-reset-domid-5-esrch"
    mov word [arg], DOMID_SELF
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_reset, arg
    CHECK_RAX 0, "evtchn-reset"
    ; Every port of ours is closed ...
    mov r12, reset_ports
.closed:
    mov rdx, [r12]
    test rdx, rdx
    jz .all_closed
    mov esi, [rdx]
    call evtchn_status_self
    test rax, rax
    jnz .reset_closed
    mov eax, [arg + ES_STATUS]
    cmp eax, EVTCHNSTAT_closed
    jne .reset_closed
    add r12, 8
    jmp .closed
.all_closed:
    cmp eax, eax
.reset_closed:
    CHECK64 "evtchn-reset-closes-the-guests-ports"
    ; ... but the console's and the store's.
    mov esi, [console_port]
    call evtchn_status_self
    test rax, rax
    jnz .kept
    mov eax, [arg + ES_STATUS]
    cmp eax, EVTCHNSTAT_interdomain
    jne .kept
    mov esi, [store_port]
    call evtchn_status_self
    test rax, rax
    jnz .kept
    mov eax, [arg + ES_STATUS]
    cmp eax, EVTCHNSTAT_interdomain
.kept:
    CHECK64 "evtchn-reset-keeps-console-and-store-ports"
    call zero_arg
    mov word [arg], DOMID_SELF
    mov word [arg + 2], DOMID_SELF
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, arg
    test rax, rax
    jnz .realloc
    mov eax, [arg + 4]
    cmp eax, 3
.realloc:
    CHECK64 "evtchn-alloc-unbound-after-reset-port-3"
    ret

    align 8
reset_ports:    dq port_a, port_b, port_timer, port_unbound, ap_ipi_port, 0

; ---- The AP ----
; The trampoline, copied to TRAMPOLINE: the SIPI starts it in real mode
; with CS = TRAMPOLINE >> 4, IP = 0. A 32-bit LGDT (its base is above
; 1 MiB), CR0.PE, a far jump into the kernel's 32-bit code.
    bits 16
ap_trampoline:
    cli
    mov ax, cs
    mov ds, ax
    o32 lgdt [ap_trampoline_gdtr - ap_trampoline]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword CODE32:ap_pm32
    align 4
    dw 0
ap_trampoline_gdtr:
    dw gdt_end - gdt - 1
    dd gdt
ap_trampoline_end:

    bits 32
ap_pm32:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, ap_stack_top
    call enable_long_mode               ; the BSP's page tables
    jmp CODE64:ap_long

    bits 64
ap_long:
    mov rsp, ap_stack_top
    lidt [idt64_desc]
    mov eax, [xen_base]
    add eax, 4
    xor ecx, ecx
    cpuid
    mov [ap_vcpu_id], ebx
    mov rax, XENO_LAPIC + XENO_APIC_SVR
    mov dword [rax], 0x1ff
    ; Its own vcpu_info (the AP's own argument buffer: the BSP's is `arg`).
    mov qword [ap_arg], PFN(vcpu1_page)
    mov dword [ap_arg + 8], VCPU1_INFO_OFFSET
    mov dword [ap_arg + 12], 0
    HCALL HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 1, ap_arg
    mov [ap_rc_register], rax
    test rax, rax
    jnz .vector
    mov qword [vcpu_info_ptr + 8], vcpu1_page + VCPU1_INFO_OFFSET
.vector:
    mov dword [ap_arg], 1
    mov dword [ap_arg + 4], VCPU1_VECTOR
    HCALL HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, ap_arg
    mov [ap_rc_vector], rax
    mov dword [ap_arg], 1
    mov dword [ap_arg + 4], 0
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, ap_arg
    mov [ap_rc_ipi], rax
    mov eax, [ap_arg + 4]
    mov [ap_ipi_port], eax
    and eax, 63
    mov byte [port_vcpu + rax], 1       ; its upcalls are vCPU 1's
    HCALL HYPERVISOR_vcpu_op, VCPUOP_get_runstate_info, 1, ap_runstate
    mov [ap_runstate_rc], rax
    mov eax, [ap_runstate + RS_STATE]
    mov [ap_runstate_state], eax
    mov dword [ap_stage], 1

    sti
    mov edi, 1
    call clock_rounds
    mov dword [ap_stage], 2
    ; The BSP's send on the IPI port: counted by either upcall handler;
    ; the local APIC vector's handler has run too.
    mov edx, [ap_ipi_port]
    and edx, 63
    lea rbx, [port_count + 64 * 4 + rdx * 4]
    mov eax, 1
    call wait_at_least
    mov rbx, vector_upcalls + 4
    mov eax, 1
    call wait_at_least
    mov dword [ap_stage], 3
    ; The loopback port moved to vCPU 1.
    mov edx, [port_a]
    lea rbx, [port_count + 64 * 4 + rdx * 4]
    mov eax, 1
    call wait_at_least
    mov dword [ap_stage], 4
.idle:
    sti
    hlt
    jmp .idle
