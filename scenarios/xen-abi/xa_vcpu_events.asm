; xa_vcpu_events.asm: vcpu_op, the pvclock, VMCALL from ring 3, event
; channels with the vector callback, the vCPU timers and sched_op.
; All with IF=0 but for the windows that take upcalls (OPEN_IRQ_WINDOW) and
; the HLTs that wait for timers (HLT_UNTIL_CHANGED).
    bits 64

VCPU0_INFO_OFFSET   equ 64              ; vCPU 0's vcpu_info in vcpu0_page
VCPU1_INFO_OFFSET   equ 0x100           ; vCPU 1's in vcpu1_page
MS                  equ 1000000         ; ns

; ---- vcpu_op (24) ----
; RDI = vcpu, RSI = mfn, EDX = offset -> RAX (register_vcpu_info)
register_vcpu_info:
    call zero_arg
    mov [arg], rsi
    mov [arg + 8], edx
    mov rsi, rdi                        ; vcpu_op(cmd, vcpuid, arg)
    mov edi, VCPUOP_register_vcpu_info
    mov rdx, arg
    HCALL HYPERVISOR_vcpu_op
    ret

test_vcpu_op:
    mov edi, 0
    mov rsi, PFN(vcpu0_page)
    mov edx, 4096 - 6
    call register_vcpu_info
    CHECK_RAX -XEN_EINVAL, "vcpu-register-vcpu-info-offset-4090-einval"
    mov edi, 7
    mov rsi, PFN(vcpu0_page)
    mov edx, VCPU0_INFO_OFFSET
    call register_vcpu_info
    CHECK_RAX -XEN_ENOENT, "vcpu-register-vcpu-info-vcpu-7-enoent"
    mov edi, 0
    mov rsi, MMIO_IOAPIC >> 12
    mov edx, VCPU0_INFO_OFFSET
    call register_vcpu_info
    CHECK_RAX -XEN_EINVAL, "vcpu-register-vcpu-info-mmio-frame-einval"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info, 0, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "vcpu-register-vcpu-info-unmapped-efault"

    ; The page filled with a pattern: the call writes the 64 bytes at the
    ; offset (the vcpu_info, its time information copied) and nothing else.
    mov rdi, vcpu0_page
    mov ecx, 4096
    mov al, 0xee
    call fill64
    mov edi, 0
    mov rsi, PFN(vcpu0_page)
    mov edx, VCPU0_INFO_OFFSET
    call register_vcpu_info
    CHECK_RAX 0, "vcpu-register-vcpu-info"
    mov rbx, vcpu0_page + VCPU0_INFO_OFFSET
    mov eax, [rbx + VI_TIME + T_VERSION]
    test eax, 1
    jnz .copied
    mov eax, [rbx + VI_TIME + T_MUL]
    cmp eax, [shinfo_page + VI_TIME + T_MUL]
    jne .copied
    test eax, eax
    jz .copied0
    mov al, [rbx + VI_TIME + T_SHIFT]
    cmp al, [shinfo_page + VI_TIME + T_SHIFT]
    jmp .copied
.copied0:
    test rsp, rsp
.copied:
    CHECK64 "vcpu-info-time-info-copied"
    mov rsi, vcpu0_page
    mov ecx, VCPU0_INFO_OFFSET
    mov al, 0xee
    call all_bytes64
    jne .rest
    mov rsi, vcpu0_page + VCPU0_INFO_OFFSET + VI_SIZE
    mov ecx, 4096 - VCPU0_INFO_OFFSET - VI_SIZE
    call all_bytes64
.rest:
    CHECK64 "vcpu-info-nothing-else-written"
    mov qword [vcpu_info_ptr], vcpu0_page + VCPU0_INFO_OFFSET
    mov edi, 0
    mov rsi, PFN(vcpu0_page)
    mov edx, VCPU0_INFO_OFFSET
    call register_vcpu_info
    CHECK_RAX -XEN_EINVAL, "vcpu-register-vcpu-info-twice-einval"

    HCALL HYPERVISOR_vcpu_op, VCPUOP_is_up, 0, 0
    CHECK_RAX 1, "vcpu-is-up-0"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_is_up, 1, 0
    CHECK_RAX 0, "vcpu-is-up-1-before-init-sipi-sipi"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_is_up, 7, 0
    CHECK_RAX -XEN_ENOENT, "vcpu-is-up-7-enoent"

    ; The runstate: written to the registered area at once; get_runstate_info.
    mov rdi, runstate_area
    mov ecx, 48
    mov al, 0xff
    call fill64
    call zero_arg
    mov qword [arg], runstate_area
    HCALL HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, 0, arg
    CHECK_RAX 0, "vcpu-register-runstate-memory-area"
    mov eax, [runstate_area + RS_STATE]
    cmp eax, RUNSTATE_running
    jne .area
    call now0
    mov rcx, rax
    mov rax, [runstate_area + RS_ENTRY_TIME]
    cmp rcx, rax                        ; entered no later than now
    jae .area_ok
    test rsp, rsp
    jmp .area
.area_ok:
    cmp eax, eax
.area:
    CHECK64 "vcpu-runstate-area-running-entered-in-the-past"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_get_runstate_info, 0, runstate_buf
    test rax, rax
    jnz .info
    mov eax, [runstate_buf + RS_STATE]
    cmp eax, RUNSTATE_running
    jne .info
    mov rax, [runstate_buf + RS_TIME]   ; time running: this period included
    test rax, rax
    jz .info0
    cmp eax, eax
    jmp .info
.info0:
    test rsp, rsp
.info:
    CHECK64 "vcpu-get-runstate-info-running"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_get_runstate_info, 7, runstate_buf
    CHECK_RAX -XEN_ENOENT, "vcpu-get-runstate-info-vcpu-7-enoent"

    ; PVH guests start vCPUs with INIT-SIPI-SIPI: VCPUOP_up cannot start one
    ; that never ran (it has no state), VCPUOP_down of it changes nothing,
    ; and there is no VCPUOP_initialise. (xa_smp.asm takes vCPU 1 down and up.)
    HCALL HYPERVISOR_vcpu_op, VCPUOP_up, 1, 0
    CHECK_RAX -XEN_EINVAL, "vcpu-up-never-started-einval"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_down, 1, 0
    CHECK_RAX 0, "vcpu-down-never-started-nothing-to-do"
    call zero_arg
    HCALL HYPERVISOR_vcpu_op, VCPUOP_initialise, 1, arg
    CHECK_RAX -XEN_ENOSYS, "vcpu-initialise-enosys"
    HCALL HYPERVISOR_vcpu_op, VCPUOP_unknown, 0, arg
    CHECK_RAX -XEN_ENOSYS, "vcpu-op-unknown-enosys"
    ret

; ---- The pvclock ----
test_pvclock:
    mov rbx, [vcpu_info_ptr]
    mov al, [rbx + VI_TIME + T_FLAGS]
    and eax, XEN_PVCLOCK_TSC_STABLE_BIT
    cmp eax, XEN_PVCLOCK_TSC_STABLE_BIT
    CHECK64 "pvclock-tsc-stable-flag"
    call now0
    mov [time0], rax
    mov [tsc0], rdx
    test rax, rax
    jz .start_bad
    mov r11, 10000 * MS
    cmp rax, r11
    jae .start_bad
    cmp eax, eax
    jmp .start
.start_bad:
    test rsp, rsp
.start:
    CHECK64 "pvclock-system-time-since-domain-start"
    mov ecx, 200000                     ; ~0.4 ms in the sim, no exits
    call spin64
    call now0
    mov [time1], rax
    mov [tsc1], rdx
    cmp rax, [time0]
    ZF_IF a
    CHECK64 "pvclock-system-time-advances"
    ; The ns the pvclock counted against the TSC ticks at CPUID's rate:
    ; expected = dtsc * 10^6 / tsc_khz, within 0.1% + 1 us.
    mov rax, [tsc1]
    sub rax, [tsc0]
    mov rcx, 1000000
    mul rcx
    mov ecx, [tsc_khz]
    test ecx, ecx
    jz .rate_bad
    div rcx                             ; RAX = expected ns
    mov rbx, rax
    mov rax, [time1]
    sub rax, [time0]                    ; RAX = counted ns
    mov rcx, rax
    sub rcx, rbx
    jns .abs
    neg rcx
.abs:
    mov rdx, rbx
    shr rdx, 10
    add rdx, 1000
    cmp rcx, rdx
    ja .rate_bad
    cmp eax, eax
    jmp .rate
.rate_bad:
    test rsp, rsp
.rate:
    CHECK64 "pvclock-rate-matches-cpuid-tsc-khz"
    mov eax, [pvclock_stuck]
    test eax, eax
    CHECK64 "pvclock-version-protocol-settles"
    ret

; ---- VMCALL at CPL 3: -EPERM ----
; IRETQ to a 64-bit ring-3 code segment (the page tables have U/S set
; everywhere); the ring-3 code makes xen_version(XENVER_version) and comes
; back through INT 0x80 (a DPL-3 gate; the TSS's RSP0 is its stack).
test_ring3_vmcall:
    mov [ring3_saved_rsp], rsp
    mov qword [ring3_result], 0
    push USER_DATA                      ; SS
    push ring3_stack_top                ; RSP
    push 0x2                            ; RFLAGS: IF=0
    push USER_CODE64                    ; CS
    push ring3_code                     ; RIP
    iretq
ring3_code:
    mov eax, HYPERVISOR_xen_version
    xor edi, edi
    xor esi, esi
    vmcall
    mov [ring3_result], rax
    int RING3_GATE
ring3_return:                           ; CPL 0 again, on the TSS's RSP0
    mov rsp, [ring3_saved_rsp]
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rax, [ring3_result]
    CHECK_RAX -XEN_EPERM, "vmcall-at-cpl3-eperm"
    ret

; ---- event_channel_op (32) and the upcall ----
%macro EVTCHN_PORT_OP 2                 ; sub-op, port (a register or immediate) -> RAX
    mov esi, %2
    mov edi, %1
    call evtchn_port_op
%endmacro

; The count of upcalls on vCPU 0 that saw port [%1] (EAX).
%macro PORT_COUNT0 1
    mov edx, [%1]
    mov eax, [port_count + rdx * 4]
%endmacro

; ZF=1 when [arg]'s evtchn_status says status %1 on vCPU %2 (EAX: status).
%macro STATUS_IS 2
    mov eax, [arg + ES_VCPU]
    cmp eax, %2
    mov eax, [arg + ES_STATUS]
    jne %%done
    cmp eax, %1
%%done:
%endmacro

test_event_channels:
    ; Upcalls through HVM_PARAM_CALLBACK_IRQ: type 2, vector 0xf3.
    SET_PARAM HVM_PARAM_CALLBACK_IRQ, (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | UPCALL_VECTOR
    CHECK_RAX 0, "hvm-set-param-callback-irq-vector-0xf3"
    GET_PARAM HVM_PARAM_CALLBACK_IRQ
    test rax, rax
    jnz .cb
    mov rax, [arg + HP_VALUE]
    mov r11, (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | UPCALL_VECTOR
    cmp rax, r11
.cb:
    CHECK64 "hvm-get-param-callback-irq-reads-back"
    OPEN_IRQ_WINDOW                     ; whatever is pending already

    ; An operation whose answer cannot be written back fails before it
    ; binds anything: its argument on a read-only page (ALIAS + 8 KiB maps
    ; alias_page without W; CR0.WP on, else a supervisor write ignores W,
    ; as Xen's walk does) gives -EFAULT, and port 3 stays the lowest free.
    mov word [alias_page + RO_ARG], DOMID_SELF        ; dom
    mov word [alias_page + RO_ARG + 2], DOMID_SELF    ; remote_dom
    mov dword [alias_page + RO_ARG + 4], 0
    mov rax, cr0
    or rax, CR0_WP
    mov cr0, rax
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, ALIAS_READ_ONLY + RO_ARG
    CHECK_RAX -XEN_EFAULT, "evtchn-alloc-unbound-read-only-argument-efault"
    mov dword [alias_page + RO_ARG], 0                ; bind_ipi: vcpu 0
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, ALIAS_READ_ONLY + RO_ARG
    CHECK_RAX -XEN_EFAULT, "evtchn-bind-ipi-read-only-argument-efault"
    mov rax, cr0
    and rax, ~CR0_WP
    mov cr0, rax

    ; A loopback: alloc_unbound for ourselves, bind_interdomain to it.
    call zero_arg
    mov word [arg], DOMID_SELF          ; dom
    mov word [arg + 2], DOMID_SELF      ; remote_dom
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, arg
    test rax, rax
    jnz .alloc
    mov eax, [arg + 4]
    mov [port_a], eax
    cmp eax, 3                          ; 1 and 2 are the console's and the store's
.alloc:
    CHECK64 "evtchn-alloc-unbound-lowest-free-port-3"
    mov esi, [port_a]
    call evtchn_status_self
    test rax, rax
    jnz .unbound
    STATUS_IS EVTCHNSTAT_unbound, 0
    jne .unbound
    movzx eax, word [arg + ES_U_DOM]    ; DOMID_SELF became our id (as Xen does)
    cmp eax, XEN_DOMID
.unbound:
    CHECK64 "evtchn-status-unbound-remote-domain-1"
    call zero_arg
    mov word [arg], DOMID_SELF          ; remote_dom
    mov eax, [port_a]
    mov [arg + 4], eax                  ; remote_port
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_interdomain, arg
    test rax, rax
    jnz .bind
    mov eax, [arg + 8]
    mov [port_b], eax
    cmp eax, 4
.bind:
    CHECK64 "evtchn-bind-interdomain-loopback-port-4"
    mov esi, [port_a]
    call evtchn_status_self
    test rax, rax
    jnz .sa
    STATUS_IS EVTCHNSTAT_interdomain, 0
    jne .sa
    movzx eax, word [arg + ES_U_DOM]
    cmp eax, XEN_DOMID
    jne .sa
    mov eax, [arg + ES_U_PORT]
    cmp eax, [port_b]
.sa:
    CHECK64 "evtchn-status-interdomain-a-to-b"
    mov esi, [port_b]
    call evtchn_status_self
    test rax, rax
    jnz .sb
    STATUS_IS EVTCHNSTAT_interdomain, 0
    jne .sb
    mov eax, [arg + ES_U_PORT]
    cmp eax, [port_a]
.sb:
    CHECK64 "evtchn-status-interdomain-b-to-a"

    ; As Xen does, the binding marks the new local port pending (a send on
    ; the unbound end before it is not lost).
    OPEN_IRQ_WINDOW
    PORT_COUNT0 port_b
    cmp eax, 1
    CHECK64 "evtchn-bind-interdomain-marks-the-new-port-pending"

    ; A send on one end marks the other pending: the upcall sees it.
    EVTCHN_PORT_OP EVTCHNOP_send, [port_b]
    CHECK_RAX 0, "evtchn-send-b"
    OPEN_IRQ_WINDOW
    PORT_COUNT0 port_a
    cmp eax, 1
    CHECK64 "evtchn-upcall-delivers-port-a"
    PORT_COUNT0 port_b
    cmp eax, 1
    CHECK64 "evtchn-upcall-not-for-the-sending-port"
    EVTCHN_PORT_OP EVTCHNOP_send, [port_a]
    CHECK_RAX 0, "evtchn-send-a"
    OPEN_IRQ_WINDOW
    PORT_COUNT0 port_b
    cmp eax, 2
    CHECK64 "evtchn-upcall-delivers-port-b"

    ; Masked: the send sets the pending bit only (no selector bit, no
    ; evtchn_upcall_pending, no upcall); unmask delivers it.
    mov eax, [port_a]
    lock bts [shinfo_page + SI_EVTCHN_MASK], rax
    EVTCHN_PORT_OP EVTCHNOP_send, [port_b]
    mov eax, [port_a]
    bt [shinfo_page + SI_EVTCHN_PENDING], rax
    jnc .masked_bad
    mov rbx, [vcpu_info_ptr]
    movzx eax, byte [rbx + VI_UPCALL_PENDING]
    test eax, eax
    jmp .masked
.masked_bad:
    mov eax, -1
    test rsp, rsp
.masked:
    CHECK64 "evtchn-masked-port-pending-without-upcall-pending"
    PORT_COUNT0 port_a
    mov ebx, eax
    OPEN_IRQ_WINDOW
    PORT_COUNT0 port_a
    cmp eax, ebx
    CHECK64 "evtchn-masked-port-no-upcall"
    ; SCHEDOP_poll on a port that is pending returns at once.
    mov eax, [port_a]
    mov [poll_ports], eax
    call now0
    mov [time0], rax
    lea rdx, [rax + 1000 * MS]
    mov rdi, poll_ports
    mov esi, 1
    call sched_poll
    test rax, rax
    jnz .poll
    call now0
    sub rax, [time0]
    cmp rax, MS
    ZF_IF b
.poll:
    CHECK64 "sched-poll-pending-port-returns-at-once"
    EVTCHN_PORT_OP EVTCHNOP_unmask, [port_a]
    CHECK_RAX 0, "evtchn-unmask"
    mov eax, [port_a]
    bt [shinfo_page + SI_EVTCHN_MASK], rax
    setc al
    movzx eax, al
    test eax, eax
    CHECK64 "evtchn-unmask-clears-the-mask-bit"
    OPEN_IRQ_WINDOW
    PORT_COUNT0 port_a
    sub eax, ebx
    cmp eax, 1
    CHECK64 "evtchn-unmask-delivers-the-pending-port"

    ; VIRQs
    call zero_arg
    mov dword [arg], VIRQ_TIMER
    mov dword [arg + 4], 0
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, arg
    mov ecx, [arg + 8]
    mov [port_timer], ecx
    CHECK_RAX 0, "evtchn-bind-virq-timer-vcpu-0"
    mov esi, [port_timer]
    call evtchn_status_self
    test rax, rax
    jnz .virq
    STATUS_IS EVTCHNSTAT_virq, 0
    jne .virq
    mov eax, [arg + ES_U_VIRQ]
    cmp eax, VIRQ_TIMER
.virq:
    CHECK64 "evtchn-status-virq-timer"
%macro BIND_VIRQ 2                      ; virq, vcpu -> RAX
    call zero_arg
    mov dword [arg], %1
    mov dword [arg + 4], %2
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_virq, arg
%endmacro
    BIND_VIRQ VIRQ_TIMER, 0
    CHECK_RAX -XEN_EEXIST, "evtchn-bind-virq-twice-eexist"
    BIND_VIRQ NR_VIRQS, 0
    CHECK_RAX -XEN_EINVAL, "evtchn-bind-virq-24-einval"
    BIND_VIRQ VIRQ_CONSOLE, 1
    CHECK_RAX -XEN_EINVAL, "evtchn-bind-global-virq-vcpu-1-einval"
    BIND_VIRQ VIRQ_TIMER, 7
    CHECK_RAX -XEN_ENOENT, "evtchn-bind-virq-vcpu-7-enoent"

    ; An IPI to ourselves.
    call zero_arg
    mov dword [arg], 0
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, arg
    mov ecx, [arg + 4]
    mov [port_ipi], ecx
    CHECK_RAX 0, "evtchn-bind-ipi-vcpu-0"
    mov esi, [port_ipi]
    call evtchn_status_self
    test rax, rax
    jnz .ipi
    STATUS_IS EVTCHNSTAT_ipi, 0
.ipi:
    CHECK64 "evtchn-status-ipi"
    EVTCHN_PORT_OP EVTCHNOP_send, [port_ipi]
    OPEN_IRQ_WINDOW
    PORT_COUNT0 port_ipi
    cmp eax, 1
    CHECK64 "evtchn-ipi-upcall-on-vcpu-0"
    call zero_arg
    mov dword [arg], 7
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_ipi, arg
    CHECK_RAX -XEN_ENOENT, "evtchn-bind-ipi-vcpu-7-enoent"

    ; bind_vcpu: not for IPIs and per-vCPU VIRQs; bad vCPU; bad port.
%macro BIND_VCPU 2                      ; port, vcpu -> RAX
    call zero_arg
    mov eax, %1
    mov [arg], eax
    mov dword [arg + 4], %2
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_bind_vcpu, arg
%endmacro
    BIND_VCPU [port_ipi], 1
    CHECK_RAX -XEN_EINVAL, "evtchn-bind-vcpu-ipi-einval"
    BIND_VCPU [port_timer], 1
    CHECK_RAX -XEN_EINVAL, "evtchn-bind-vcpu-virq-timer-einval"
    BIND_VCPU [port_a], 7
    CHECK_RAX -XEN_ENOENT, "evtchn-bind-vcpu-7-enoent"
    BIND_VCPU EVTCHN_BAD_PORT, 0
    CHECK_RAX -XEN_EINVAL, "evtchn-bind-vcpu-port-5000-einval"

    ; A send on an unbound port does nothing.
    call zero_arg
    mov word [arg], DOMID_SELF
    mov word [arg + 2], DOMID_SELF
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_alloc_unbound, arg
    mov ecx, [arg + 4]
    mov [port_unbound], ecx
    CHECK_RAX 0, "evtchn-alloc-unbound-second"
    EVTCHN_PORT_OP EVTCHNOP_send, [port_unbound]
    test rax, rax
    jnz .unbound_send
    mov eax, [port_unbound]
    bt [shinfo_page + SI_EVTCHN_PENDING], rax
    setc al
    movzx eax, al
    test eax, eax
.unbound_send:
    CHECK64 "evtchn-send-unbound-port-does-nothing"

    ; close
    EVTCHN_PORT_OP EVTCHNOP_close, [port_ipi]
    CHECK_RAX 0, "evtchn-close-ipi"
    mov esi, [port_ipi]
    call evtchn_status_self
    test rax, rax
    jnz .closed
    mov eax, [arg + ES_STATUS]
    cmp eax, EVTCHNSTAT_closed
.closed:
    CHECK64 "evtchn-status-closed"
    EVTCHN_PORT_OP EVTCHNOP_send, [port_ipi]
    CHECK_RAX -XEN_EINVAL, "evtchn-send-closed-port-einval"
    EVTCHN_PORT_OP EVTCHNOP_close, [port_ipi]
    CHECK_RAX -XEN_EINVAL, "evtchn-close-closed-port-einval"

    ; Ports that are never valid, another domain, the store's port.
    EVTCHN_PORT_OP EVTCHNOP_send, 0
    CHECK_RAX -XEN_EINVAL, "evtchn-send-port-0-einval"
    EVTCHN_PORT_OP EVTCHNOP_send, EVTCHN_BAD_PORT
    CHECK_RAX -XEN_EINVAL, "evtchn-send-port-5000-einval"
    EVTCHN_PORT_OP EVTCHNOP_close, 0
    CHECK_RAX -XEN_EINVAL, "evtchn-close-port-0-einval"
    EVTCHN_PORT_OP EVTCHNOP_unmask, EVTCHN_BAD_PORT
    CHECK_RAX -XEN_EINVAL, "evtchn-unmask-port-5000-einval"
    mov esi, EVTCHN_BAD_PORT
    call evtchn_status_self
    CHECK_RAX -XEN_EINVAL, "evtchn-status-port-5000-einval"
    mov edi, OTHER_DOMID
    mov esi, [port_a]
    call evtchn_status
    CHECK_RAX -XEN_ESRCH, "evtchn-status-domid-5-esrch"
    mov esi, [store_port]
    call evtchn_status_self
    test rax, rax
    jnz .store
    mov eax, [arg + ES_STATUS]
    cmp eax, EVTCHNSTAT_interdomain
.store:
    CHECK64 "evtchn-status-store-port-interdomain"
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_send, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "evtchn-send-unmapped-argument-efault"

    ; The FIFO ABI is not offered: guests stay with 2-level.
    call zero_arg
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_init_control, arg
    CHECK_RAX -XEN_ENOSYS, "evtchn-init-control-enosys"
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_expand_array, arg
    CHECK_RAX -XEN_ENOSYS, "evtchn-expand-array-enosys"
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_set_priority, arg
    CHECK_RAX -XEN_ENOSYS, "evtchn-set-priority-enosys"
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_unknown, arg
    CHECK_RAX -XEN_ENOSYS, "evtchn-op-unknown-enosys"
    ret

; ---- Timers (vcpu_op) and SCHEDOP_block ----
; The address of vCPU 0's upcall count for the timer port, in RBX.
%macro TIMER_COUNT_ADDR 0
    mov ebx, [port_timer]
    lea rbx, [port_count + rbx * 4]
%endmacro

; RAX = the system time of the last upcall that saw the timer port on vCPU 0
%macro TIMER_TIME 0
    mov eax, [port_timer]
    mov rax, [port_time + rax * 8]
%endmacro

; ZF=1 when deadline <= RAX <= deadline + 100 ms (RAX kept).
in_deadline_window:
    push rcx
    mov rcx, rax
    sub rcx, [deadline]
    jb .no
    cmp rcx, 100 * MS
    ja .no
    pop rcx
    cmp eax, eax
    ret
.no:
    pop rcx
    test rsp, rsp
    ret

; RDI = ns from now: deadline = now + RDI, a singleshot timer for it -> RAX
singleshot_in:
    push rdi
    call now0
    pop rdi
    add rax, rdi
    mov [deadline], rax
    mov rdi, rax
    xor esi, esi
    jmp set_singleshot

test_timers:
    OPEN_IRQ_WINDOW
    mov edi, MS
    call singleshot_in
    CHECK_RAX 0, "vcpu-set-singleshot-timer"
    TIMER_COUNT_ADDR
    HLT_UNTIL_CHANGED rbx
    TIMER_TIME
    call in_deadline_window
    CHECK64 "vcpu-singleshot-timer-upcall-after-deadline"

    call now0
    lea rdi, [rax - 1000]
    mov esi, VCPU_SSHOTTMR_future
    call set_singleshot
    CHECK_RAX -XEN_ETIME, "vcpu-singleshot-future-flag-past-time-etime"
    TIMER_COUNT_ADDR
    mov r12d, [rbx]
    call now0
    lea rdi, [rax - 1000]
    xor esi, esi
    call set_singleshot
    test rax, rax
    jnz .past
    OPEN_IRQ_WINDOW
    TIMER_COUNT_ADDR
    mov eax, [rbx]
    sub eax, r12d
    cmp eax, 1
.past:
    CHECK64 "vcpu-singleshot-past-time-fires-at-once"

    mov edi, MS
    call singleshot_in
    HCALL HYPERVISOR_vcpu_op, VCPUOP_stop_singleshot_timer, 0, 0
    CHECK_RAX 0, "vcpu-stop-singleshot-timer"
    mov edi, 3 * MS
    call singleshot_in
    TIMER_COUNT_ADDR
    HLT_UNTIL_CHANGED rbx
    TIMER_TIME
    call in_deadline_window
    CHECK64 "vcpu-stopped-singleshot-timer-did-not-fire"

    ; SCHEDOP_block with IF=0: the timer's event wakes the vCPU (sets
    ; evtchn_upcall_pending); the upcall itself waits for STI.
    OPEN_IRQ_WINDOW
    TIMER_COUNT_ADDR
    mov r12d, [rbx]
    mov r13, [runstate_area + RS_ENTRY_TIME]
    mov edi, MS
    call singleshot_in
    HCALL HYPERVISOR_sched_op, SCHEDOP_block, 0
    CHECK_RAX 0, "sched-block"
    call now0
    call in_deadline_window
    jne .woke
    mov rbx, [vcpu_info_ptr]
    movzx eax, byte [rbx + VI_UPCALL_PENDING]
    cmp eax, 1
.woke:
    CHECK64 "sched-block-woken-by-the-timer-event"
    OPEN_IRQ_WINDOW
    TIMER_COUNT_ADDR
    mov eax, [rbx]
    sub eax, r12d
    cmp eax, 1
    CHECK64 "sched-block-upcall-after-sti"
    ; The registered runstate area followed: blocked, then running again.
    mov eax, [runstate_area + RS_STATE]
    cmp eax, RUNSTATE_running
    jne .runstate
    mov rax, [runstate_area + RS_ENTRY_TIME]
    cmp rax, r13
    jbe .runstate_bad
    mov rax, [runstate_area + RS_TIME + RUNSTATE_blocked * 8]
    test rax, rax
    jz .runstate_bad
    cmp eax, eax
    jmp .runstate
.runstate_bad:
    test rsp, rsp
.runstate:
    CHECK64 "vcpu-runstate-area-updated-blocked-then-running"

    ; Periodic: at least 1 ms; ticks a period apart; stopped, none.
    call zero_arg
    mov qword [arg], MS / 2
    HCALL HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 0, arg
    CHECK_RAX -XEN_EINVAL, "vcpu-set-periodic-timer-0.5-ms-einval"
    mov qword [arg], 2 * MS
    HCALL HYPERVISOR_vcpu_op, VCPUOP_set_periodic_timer, 0, arg
    CHECK_RAX 0, "vcpu-set-periodic-timer-2-ms"
    xor r12d, r12d
.tick:
    TIMER_COUNT_ADDR
    HLT_UNTIL_CHANGED rbx
    TIMER_TIME
    mov [tick_time + r12 * 8], rax
    inc r12d
    cmp r12d, 3
    jb .tick
    HCALL HYPERVISOR_vcpu_op, VCPUOP_stop_periodic_timer, 0, 0
    CHECK_RAX 0, "vcpu-stop-periodic-timer"
    mov rax, [tick_time + 16]
    sub rax, [tick_time]
    cmp rax, 3 * MS                     ; two periods, less 1 ms of slack
    ZF_IF ae
    CHECK64 "vcpu-periodic-timer-three-ticks-two-periods-apart"
    mov edi, 5 * MS
    call singleshot_in
    TIMER_COUNT_ADDR
    HLT_UNTIL_CHANGED rbx
    TIMER_TIME
    call in_deadline_window
    CHECK64 "vcpu-stopped-periodic-timer-did-not-fire"
    ret

; ---- sched_op (29) ----
test_sched_op:
    HCALL HYPERVISOR_sched_op, SCHEDOP_yield, 0
    CHECK_RAX 0, "sched-yield"
    ; poll with a timeout on a port that never fires (the unbound one)
    mov eax, [port_unbound]
    mov [poll_ports], eax
    call now0
    add rax, 2 * MS
    mov [deadline], rax
    mov rdi, poll_ports
    mov esi, 1
    mov rdx, rax
    call sched_poll
    CHECK_RAX 0, "sched-poll-timeout-returns-0"
    call now0
    call in_deadline_window
    CHECK64 "sched-poll-returns-after-the-timeout"
    mov rdi, poll_ports
    mov esi, 129
    xor edx, edx
    call sched_poll
    CHECK_RAX -XEN_EINVAL, "sched-poll-129-ports-einval"
    mov dword [poll_ports], EVTCHN_BAD_PORT
    mov rdi, poll_ports
    mov esi, 1
    xor edx, edx
    call sched_poll
    CHECK_RAX -XEN_EINVAL, "sched-poll-port-5000-einval"
    mov rdi, UNMAPPED
    mov esi, 1
    xor edx, edx
    call sched_poll
    CHECK_RAX -XEN_EFAULT, "sched-poll-ports-unmapped-efault"

    ; shutdown reasons that are not served (poweroff ends the run, last)
%macro SHUTDOWN 1
    mov dword [arg], %1
    HCALL HYPERVISOR_sched_op, SCHEDOP_shutdown, arg
%endmacro
    SHUTDOWN SHUTDOWN_suspend
    CHECK_RAX -XEN_ENOSYS, "sched-shutdown-suspend-enosys"
    SHUTDOWN SHUTDOWN_soft_reset
    CHECK_RAX -XEN_ENOSYS, "sched-shutdown-soft-reset-enosys"
    SHUTDOWN 99
    CHECK_RAX -XEN_EINVAL, "sched-shutdown-reason-99-einval"
    HCALL HYPERVISOR_sched_op, SCHEDOP_shutdown, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "sched-shutdown-unmapped-efault"

    ; watchdog(id, timeout): 0 arms a new one (id 1), then re-arm, remove.
%macro WATCHDOG 2
    mov dword [arg], %1
    mov dword [arg + 4], %2
    HCALL HYPERVISOR_sched_op, SCHEDOP_watchdog, arg
%endmacro
    WATCHDOG 0, 60
    CHECK_RAX 1, "sched-watchdog-new-id-1"
    WATCHDOG 1, 60
    CHECK_RAX 0, "sched-watchdog-rearm"
    WATCHDOG 1, 0
    CHECK_RAX 0, "sched-watchdog-remove"
    HCALL HYPERVISOR_sched_op, SCHEDOP_unknown, arg
    CHECK_RAX -XEN_ENOSYS, "sched-op-unknown-enosys"
    ret
