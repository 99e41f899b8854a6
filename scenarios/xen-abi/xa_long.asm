; xa_long.asm: into long mode, the 64-bit routines the tests share, and the
; BSP's main line. Included by kernel.asm.

; ---- 4-level paging (SDM Vol. 3A 4.5) ----
; PML4[0] -> PDPT; PDPT[0] -> pd0: the first GiB identity-mapped in 2 MiB
; pages (RAM is its first 64 MiB); PDPT[1] -> pd1 -> pt_alias: ALIAS maps
; alias_page, ALIAS + 4 KiB nothing, ALIAS + 8 KiB alias_page read-only; PDPT[2] absent (UNMAPPED); PDPT[3] ->
; pd3: the 2 MiB pages of the I/O APIC (0xfec00000) and the local APIC
; (0xfee00000), identity, uncached. Every entry has U/S set: ring 3 code
; (the VMCALL at CPL 3) runs on the same tables.
PTE_P               equ 1 << 0
PTE_W               equ 1 << 1
PTE_U               equ 1 << 2
PTE_PWT             equ 1 << 3
PTE_PCD             equ 1 << 4
PTE_PS              equ 1 << 7
PTE_TABLE           equ PTE_P | PTE_W | PTE_U
PTE_LARGE           equ PTE_P | PTE_W | PTE_U | PTE_PS

    bits 32
build_page_tables:
    mov edi, pml4                       ; pml4 .. pt_alias are consecutive pages
    mov ecx, 6 * 4096 / 4
    xor eax, eax
    rep stosd
    mov dword [pml4], pdpt + PTE_TABLE
    mov dword [pdpt + 0 * 8], pd0 + PTE_TABLE
    mov dword [pdpt + 1 * 8], pd1 + PTE_TABLE
    mov dword [pdpt + 3 * 8], pd3 + PTE_TABLE
    xor ecx, ecx
.identity:
    mov eax, ecx
    shl eax, 21
    or eax, PTE_LARGE
    mov [pd0 + ecx * 8], eax
    inc ecx
    cmp ecx, 512
    jb .identity
    mov dword [pd1], pt_alias + PTE_TABLE
    mov dword [pt_alias], alias_page + PTE_TABLE   ; pt_alias[1] stays 0: not present
    mov dword [pt_alias + 2 * 8], alias_page + PTE_P + PTE_U  ; ALIAS_READ_ONLY: no W
    mov dword [pd3 + ((MMIO_IOAPIC >> 21) & 511) * 8], MMIO_IOAPIC + PTE_LARGE + PTE_PCD + PTE_PWT
    mov dword [pd3 + ((XENO_LAPIC >> 21) & 511) * 8], XENO_LAPIC + PTE_LARGE + PTE_PCD + PTE_PWT
    ret

; SDM Vol. 3A 10.8.5: PAE, CR3, EFER.LME, then CR0.PG; a far jump into the
; 64-bit code segment.
enter_long_mode:
    call build_page_tables
    call enable_long_mode
    jmp CODE64:long_start

; Shared with the AP (xa_smp.asm). Registers other than EAX, ECX, EDX kept.
enable_long_mode:
    mov eax, cr4
    or eax, 1 << 5                      ; PAE
    mov cr4, eax
    mov eax, pml4
    mov cr3, eax
    mov ecx, 0xc0000080                 ; IA32_EFER
    rdmsr
    or eax, 1 << 8                      ; LME
    wrmsr
    mov eax, cr0
    or eax, 1 << 31                     ; PG
    mov cr0, eax
    ret

    bits 64
long_start:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov rsp, bsp_stack_top
    call idt64_setup
    lidt [idt64_desc]
    call tss_setup
    mov ax, TSS_SEL
    ltr ax
    mov rsi, msg_long
    call puts64
    ; vCPU 0's vcpu_info is shared_info's vcpu_info[0] until it registers
    ; its own; vCPU 1's is vcpu_info[1].
    mov qword [vcpu_info_ptr], shinfo_page
    mov qword [vcpu_info_ptr + 8], shinfo_page + VI_SIZE

    call test_xen_version
    call test_console_io
    call test_hvm_params
    call test_memory_op
    call test_balloon
    call test_vcpu_op
    call test_pvclock
    call test_ring3_vmcall
    call test_hypercall_numbers
    call test_event_channels
    call test_timers
    call test_sched_op
    call test_grant_table
    call test_console_ring
    call test_xenstore
    call test_smp
    call test_evtchn_reset

    cli
    cmp dword [failures], 0
    je .passed
    mov rsi, msg_failed
    call puts64
    XENO_EXIT EXIT_FAILED
.passed:
    mov rsi, msg_passed
    call puts64
    mov dword [arg], SHUTDOWN_poweroff
    HCALL HYPERVISOR_sched_op, SCHEDOP_shutdown, arg
    mov rsi, msg_shutdown_returned      ; the run should have ended
    call puts64
    call hex64
    mov al, 10
    call putc64
    XENO_EXIT EXIT_SHUTDOWN_RETURNED

; ---- The IDT (SDM Vol. 3A 6.14.1: 16-byte gates) ----
; Exceptions -> exc64_stubs (the end, with the vector and RIP printed);
; UPCALL_VECTOR -> the BSP's callback handler; RING3_GATE (DPL 3) -> back
; from ring 3; everything else -> unexpected_irq. The AP loads the same
; IDT: its handlers find out which vCPU they run on (current_vcpu).
idt64_setup:
    xor ecx, ecx
.gate:
    lea rax, [rel unexpected_irq]
    cmp ecx, 32
    jae .set
    mov eax, ecx
    shl eax, 4
    add rax, exc64_stubs
.set:
    mov edx, 0x8e00                     ; present, DPL 0, 64-bit interrupt gate
    call idt64_set_gate
    inc ecx
    cmp ecx, 256
    jb .gate
    mov ecx, UPCALL_VECTOR
    mov rax, upcall_callback
    call idt64_set_gate
    mov ecx, VCPU1_VECTOR
    mov rax, upcall_lapic
    call idt64_set_gate
    mov ecx, RING3_GATE
    mov rax, ring3_return
    mov edx, 0xee00                     ; present, DPL 3
    call idt64_set_gate
    ret

; ECX = vector, RAX = handler, EDX = the type/attribute word
idt64_set_gate:
    push rdi
    mov edi, ecx
    shl edi, 4
    add rdi, idt64
    mov [rdi], ax
    mov word [rdi + 2], CODE64
    mov [rdi + 4], dx
    shr rax, 16
    mov [rdi + 6], ax
    shr rax, 16
    mov [rdi + 8], eax
    mov dword [rdi + 12], 0
    pop rdi
    mov edx, 0x8e00
    ret

; The 64-bit TSS's descriptor (SDM Vol. 3A 8.2.3): base tss64, limit 103,
; type 9 (available 64-bit TSS), present. RSP0 for the way back from ring 3.
tss_setup:
    mov rax, ring3_kstack_top
    mov [tss64 + 4], rax
    mov word [tss64 + 102], 104         ; I/O map base past the limit: no bitmap
    mov rax, tss64
    mov word [tss_desc], 103
    mov [tss_desc + 2], ax
    shr rax, 16
    mov [tss_desc + 4], al
    mov byte [tss_desc + 5], 0x89
    mov byte [tss_desc + 6], 0
    mov [tss_desc + 7], ah
    shr rax, 16
    mov [tss_desc + 8], eax
    ret

    align 16
exc64_stubs:
%assign v 0
%rep 32
    align 16
%if !HAS_ERROR_CODE(v)
    push qword 0
%endif
    push qword v
    jmp exc64_common
%assign v v + 1
%endrep

; [rsp] vector, error code, RIP, CS, RFLAGS, RSP, SS: nothing is expected.
exc64_common:
    mov rsi, msg_exc64
    call puts64
    mov rax, [rsp]
    call hex64
    mov rsi, msg_error
    call puts64
    mov rax, [rsp + 8]
    call hex64
    mov rsi, msg_rip
    call puts64
    mov rax, [rsp + 16]
    call hex64
    mov rsi, msg_on_vcpu
    call puts64
    call current_vcpu
    call hex64
    mov al, 10
    call putc64
    XENO_EXIT EXIT_EXCEPTION

unexpected_irq:
    mov rsi, msg_unexpected_irq
    call puts64
    call current_vcpu
    call hex64
    mov al, 10
    call putc64
    XENO_EXIT EXIT_UNEXPECTED_IRQ

; RAX = the vCPU this code runs on, told by the stack it runs on: vCPU 0
; below bsp_stack_top (its own stack and the ring-3 return stack), vCPU 1
; above it. No exit, so handlers can ask.
current_vcpu:
    xor eax, eax
    cmp rsp, bsp_stack_top
    seta al
    ret

; ---- Upcalls (the 2-level event channel ABI, public/event_channel.h) ----
; What a guest does on an upcall: clear evtchn_upcall_pending, take the
; selector (XCHG: Xen may set bits meanwhile), then for each selected word
; the pending bits that are not masked: clear each (LOCK BTR) and handle the
; port. Here "handle" is: count it per vCPU and port and note the system
; time. Through HVM_PARAM_CALLBACK_IRQ's vector no EOI (it is not a local
; APIC interrupt: Xen injects it while evtchn_upcall_pending is set);
; through a per-vCPU vector set with HVMOP_set_evtchn_upcall_vector, an EOI.
; The pending bits are the domain's, shared by the vCPUs: as Linux keeps a
; mask of the ports bound to each CPU, a handler takes only the ports
; port_vcpu gives to its vCPU (the guest writes it when it binds a port
; elsewhere than vCPU 0), and counts a port only when its LOCK BTR found
; the bit set (another vCPU's handler may have taken it).
upcall_callback:
    push rax
    push rdi
    call current_vcpu
    mov edi, eax
    inc dword [callback_upcalls + rdi * 4]
    call upcall_scan
    pop rdi
    pop rax
    iretq

upcall_lapic:
    push rax
    push rdi
    call current_vcpu
    mov edi, eax
    inc dword [vector_upcalls + rdi * 4]
    call upcall_scan
    mov rax, XENO_LAPIC + XENO_APIC_EOI
    mov dword [rax], 0
    pop rdi
    pop rax
    iretq

; RDI = the vCPU. Registers preserved.
upcall_scan:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    mov rbx, [vcpu_info_ptr + rdi * 8]
    mov byte [rbx + VI_UPCALL_PENDING], 0
    xor eax, eax
    xchg [rbx + VI_PENDING_SEL], rax
    mov r12, rax                        ; the selector: words with pending ports
.word:
    bsf rcx, r12
    jz .done
    btr r12, rcx
    mov r13, [shinfo_page + SI_EVTCHN_PENDING + rcx * 8]
    mov rax, [shinfo_page + SI_EVTCHN_MASK + rcx * 8]
    not rax
    and r13, rax
.port:
    bsf rdx, r13
    jz .word
    btr r13, rdx
    mov rax, rcx
    shl rax, 6
    add rax, rdx                        ; the port
    cmp rax, 64
    jae .other
    cmp [port_vcpu + rax], dil
    jne .port                           ; another vCPU's port
    lock btr [shinfo_page + SI_EVTCHN_PENDING + rcx * 8], rdx
    jnc .port                           ; taken already
.count:
    mov r8, rdi
    shl r8, 6
    add r8, rax                         ; [vcpu][port]
    inc dword [port_count + r8 * 4]
    push rcx
    push rdx
    push r8
    lea rsi, [rbx + VI_TIME]
    call pvclock_read
    pop r8
    pop rdx
    pop rcx
    mov [port_time + r8 * 8], rax
    jmp .port
.other:                                 ; ports from 64 on: counted apart, vCPU 0's
    test edi, edi
    jnz .port
    lock btr [shinfo_page + SI_EVTCHN_PENDING + rcx * 8], rdx
    jnc .port
    inc dword [port_other]
    jmp .port
.done:
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    ret

; ---- The pvclock (public/xen.h, struct vcpu_time_info) ----
; RSI = a vcpu_time_info -> RAX = system time (ns), RDX = the TSC it was
; computed from. Xen's version protocol: read the version, retry while it
; is odd (an update in progress), read the fields, read it again, retry
; when it changed. time = system_time + ((tsc - tsc_timestamp) << shift,
; or >> -shift) * tsc_to_system_mul >> 32. Clobbers RCX, R8-R11. After 10^6
; odd or changing versions it gives up: pvclock_stuck set, RAX = 0.
pvclock_read:
    mov r11d, 1000000
.retry:
    dec r11d
    jz .stuck
    mov r8d, [rsi + T_VERSION]
    test r8d, 1
    jnz .retry
    lfence
    mov r9, [rsi + T_TSC_TIMESTAMP]
    mov r10, [rsi + T_SYSTEM_TIME]
    mov eax, [rsi + T_MUL]
    push rax
    movsx ecx, byte [rsi + T_SHIFT]
    lfence
    rdtsc
    shl rdx, 32
    or rax, rdx
    lfence
    pop rdx                             ; the multiplier
    cmp r8d, [rsi + T_VERSION]
    jne .retry
    push rax                            ; the TSC
    sub rax, r9
    test ecx, ecx
    js .right
    shl rax, cl
    jmp .scale
.right:
    neg ecx
    shr rax, cl
.scale:
    mul rdx                             ; RDX:RAX = delta * mul
    shrd rax, rdx, 32
    add rax, r10
    pop rdx
    ret
.stuck:
    mov dword [pvclock_stuck], 1
    xor eax, eax
    xor edx, edx
    ret

; RAX = vCPU 0's system time now (its current vcpu_info), RDX its TSC.
now0:
    push rsi
    mov rsi, [vcpu_info_ptr]
    add rsi, VI_TIME
    call pvclock_read
    pop rsi
    ret

; ---- Argument helpers ----
; Zero `arg` and `arg2` (128 bytes). Registers preserved.
zero_arg:
    push rax
    push rcx
    push rdi
    lea rdi, [rel arg]
    mov ecx, 16
    xor eax, eax
    rep stosq
    pop rdi
    pop rcx
    pop rax
    ret

; RDI = destination, ECX = bytes, AL = value (rep stosb). RDI, RCX clobbered.
fill64:
    rep stosb
    ret

; EDI = sub-op (close, send, unmask: one port), ESI = port -> RAX
evtchn_port_op:
    call zero_arg
    mov [arg], esi
    HCALL HYPERVISOR_event_channel_op, rdi, arg
    ret

; ESI = port -> RAX = rc, the status in arg (DOMID_SELF)
evtchn_status_self:
    mov edi, DOMID_SELF
; EDI = domain, ESI = port -> RAX = rc, the status in arg
evtchn_status:
    call zero_arg
    mov [arg + ES_DOM], di
    mov [arg + ES_PORT], esi
    mov dword [arg + ES_STATUS], -1
    HCALL HYPERVISOR_event_channel_op, EVTCHNOP_status, arg
    ret

; EDI = HVMOP_set_param or get_param, ESI = index, RDX = value (set),
; R8D = domain -> RAX = rc, the value in [arg + HP_VALUE]
hvm_param_op:
    call zero_arg
    mov [arg + HP_DOMID], r8w
    mov [arg + HP_INDEX], esi
    mov [arg + HP_VALUE], rdx
    HCALL HYPERVISOR_hvm_op, rdi, arg
    ret

%macro GET_PARAM 1                      ; index -> RAX = rc, [arg + HP_VALUE]
    mov edi, HVMOP_get_param
    mov esi, %1
    xor edx, edx
    mov r8d, DOMID_SELF
    call hvm_param_op
%endmacro

%macro SET_PARAM 2                      ; index, value -> RAX = rc
    mov edi, HVMOP_set_param
    mov esi, %1
    mov rdx, %2
    mov r8d, DOMID_SELF
    call hvm_param_op
%endmacro

; RDI = timeout_abs_ns, ESI = flags -> RAX (on the calling vCPU: vcpu_op's vcpuid 0)
set_singleshot:
    call zero_arg
    mov [arg], rdi
    mov [arg + 8], esi
    HCALL HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer, 0, arg
    ret

; RDI = ports array, ESI = nr_ports, RDX = timeout -> RAX (SCHEDOP_poll)
sched_poll:
    call zero_arg
    mov [arg + POLL_PORTS], rdi
    mov [arg + POLL_NR_PORTS], esi
    mov [arg + POLL_TIMEOUT], rdx
    HCALL HYPERVISOR_sched_op, SCHEDOP_poll, arg
    ret

; ZF=1 when the NUL-terminated strings at RSI and RDI are equal; EAX = the
; offset of the first difference (or the length).
streq64:
    push rcx
    xor ecx, ecx
.next:
    mov al, [rsi + rcx]
    cmp al, [rdi + rcx]
    jne .differ
    inc ecx
    test al, al
    jnz .next
    mov eax, ecx
    pop rcx
    cmp eax, eax
    ret
.differ:
    mov eax, ecx
    pop rcx
    test rsp, rsp                       ; ZF=0
    ret

; ZF=1 when the ECX bytes at RSI are all AL. RSI, RCX clobbered.
all_bytes64:
    test ecx, ecx
    jz .yes
.next:
    cmp [rsi], al
    jne .no
    inc rsi
    dec ecx
    jnz .next
.yes:
    cmp eax, eax
    ret
.no:
    test rsp, rsp
    ret

; RCX = iterations of a loop without exits.
spin64:
    dec rcx
    jnz spin64
    ret

; ---- Console (the UART) and check reports, 64-bit ----
putc64:
    push rdx
    push rax
    mov dx, XENO_UART_LSR
.wait:
    in al, dx
    test al, XENO_LSR_THRE
    jz .wait
    pop rax
    mov dx, XENO_UART_THR
    out dx, al
    pop rdx
    ret

puts64:
    push rsi
    push rax
.next:
    lodsb
    test al, al
    jz .done
    call putc64
    jmp .next
.done:
    pop rax
    pop rsi
    ret

hex64:
    push rax
    push rcx
    push rdx
    mov rdx, rax
    mov ecx, 16
.digit:
    rol rdx, 4
    mov al, dl
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .put
    add al, 'a' - '0' - 10
.put:
    call putc64
    loop .digit
    pop rdx
    pop rcx
    pop rax
    ret

; [rsp + 8] on entry: the check's name (CHECK64)
check_pass64:
    pushfq
    push rsi
    push rax
    mov rsi, msg_ok
    call puts64
    mov rsi, [rsp + 32]
    call puts64
    mov al, 10
    call putc64
    pop rax
    pop rsi
    popfq
    ret

check_fail64:
    pushfq
    push rsi
    push rax
    inc dword [failures]
    mov rsi, msg_fail
    call puts64
    mov rsi, [rsp + 32]
    call puts64
    mov rsi, msg_got
    call puts64
    call hex64
    mov al, 10
    call putc64
    pop rax
    pop rsi
    popfq
    ret

msg_long:       db "xen-abi: long mode", 10, 0
msg_passed:     db "xen-abi: all checks passed", 10, 0
msg_failed:     db "xen-abi: some checks failed", 10, 0
msg_shutdown_returned: db "FAIL SCHEDOP_shutdown(poweroff) returned ", 0
msg_exc64:      db "FAIL unexpected exception in long mode: vector ", 0
msg_rip:        db " rip ", 0
msg_on_vcpu:    db " vcpu ", 0
msg_unexpected_irq: db "FAIL unexpected interrupt on vcpu ", 0
