; evtchn_abuse: event_channel_op misuse from 32-bit protected mode, each
; answer checked against docs/xen-abi.md: ports 0, 4096 and 2^32 - 1
; (-EINVAL for close, send, unmask, status), a vcpu that does not exist
; (-ENOENT), another domain (-ESRCH), a VIRQ past 24 (-EINVAL), VIRQ_TIMER
; bound twice (-EEXIST), argument structures in MMIO, across the end of RAM
; and at 0xfffffff0 (-EFAULT), an unknown command and the FIFO ones
; (-ENOSYS); then 20 000 sends on an IPI port, every free port allocated
; until -ENOSPC (ports 1-1023: xen_domain.hpp kMaxPorts), all closed again
; (reset) and one allocated. Status 0 when every
; answer was the documented one.
%include "adv.inc"
%include "adv_xen.inc"
EV_BIND_VIRQ   equ 1
EV_CLOSE       equ 3
EV_SEND        equ 4
EV_STATUS      equ 5
EV_ALLOC       equ 6
EV_BIND_IPI    equ 7
EV_UNMASK      equ 9
EV_RESET       equ 10
EV_INIT_CONTROL equ 11
ARG            equ 0x20000        ; the argument structure
    ADV_PM32 main
main:
    ; Bad ports.
    mov esi, bad_ports
.port:
    mov eax, [esi]
    mov [ARG], eax
    HC HC_EVTCHN_OP, EV_CLOSE, ARG
    EXPECT_EAX -EINVAL, 2
    HC HC_EVTCHN_OP, EV_SEND, ARG
    EXPECT_EAX -EINVAL, 3
    HC HC_EVTCHN_OP, EV_UNMASK, ARG
    EXPECT_EAX -EINVAL, 4
    add esi, 4
    cmp esi, bad_ports_end
    jb .port
    ; Bad vcpus, another domain, bad VIRQs.
    mov dword [ARG], 1                    ; bind_ipi: vcpu 1 of 1
    HC HC_EVTCHN_OP, EV_BIND_IPI, ARG
    EXPECT_EAX -ENOENT, 5
    mov dword [ARG], 0xffffffff
    HC HC_EVTCHN_OP, EV_BIND_IPI, ARG
    EXPECT_EAX -ENOENT, 5
    mov dword [ARG], 5 | (DOMID_SELF << 16)   ; alloc_unbound: dom 5
    HC HC_EVTCHN_OP, EV_ALLOC, ARG
    EXPECT_EAX -ESRCH, 6
    mov dword [ARG], 24                   ; bind_virq: virq 24, vcpu 0
    mov dword [ARG + 4], 0
    HC HC_EVTCHN_OP, EV_BIND_VIRQ, ARG
    EXPECT_EAX -EINVAL, 7
    mov dword [ARG], 0                    ; VIRQ_TIMER on vcpu 7
    mov dword [ARG + 4], 7
    HC HC_EVTCHN_OP, EV_BIND_VIRQ, ARG
    EXPECT_EAX -ENOENT, 8
    mov dword [ARG + 4], 0                ; VIRQ_TIMER on vcpu 0, twice
    HC HC_EVTCHN_OP, EV_BIND_VIRQ, ARG
    EXPECT_EAX 0, 9
    mov ebx, [ARG + 8]                    ; its port: send to a VIRQ port is -EINVAL
    mov [ARG + 16], ebx
    HC HC_EVTCHN_OP, EV_BIND_VIRQ, ARG
    EXPECT_EAX -EEXIST, 10
    HC HC_EVTCHN_OP, EV_SEND, ARG + 16
    EXPECT_EAX -EINVAL, 11
    ; Structures where they cannot be read or written back.
    mov esi, bad_args
.arg:
    HC HC_EVTCHN_OP, EV_ALLOC, [esi]
    EXPECT_EAX -EFAULT, 12
    HC HC_EVTCHN_OP, EV_STATUS, [esi]
    EXPECT_EAX -EFAULT, 12
    add esi, 4
    cmp esi, bad_args_end
    jb .arg
    HC HC_EVTCHN_OP, 99, ARG
    EXPECT_EAX -ENOSYS, 13
    HC HC_EVTCHN_OP, EV_INIT_CONTROL, ARG
    EXPECT_EAX -ENOSYS, 13
    ; An IPI port, sent to 20 000 times (IF = 0: the upcall never runs).
    mov dword [ARG], 0
    HC HC_EVTCHN_OP, EV_BIND_IPI, ARG
    EXPECT_EAX 0, 14
    mov ecx, 20000
.send:
    push ecx
    HC HC_EVTCHN_OP, EV_SEND, ARG + 4
    pop ecx
    EXPECT_EAX 0, 15
    loop .send
    ; Exhaust the ports.
    xor edi, edi
.alloc:
    mov dword [ARG], DOMID_SELF | (DOMID_SELF << 16)
    HC HC_EVTCHN_OP, EV_ALLOC, ARG
    cmp eax, -ENOSPC
    je .full
    EXPECT_EAX 0, 16
    inc edi
    cmp edi, 1024
    jb .alloc
    XENO_EXIT 17                          ; more ports than the domain has
.full:
    cmp edi, 1000                         ; nearly all of ports 1-1023 were free
    FAIL_IF b, 18
    mov dword [ARG], DOMID_SELF
    HC HC_EVTCHN_OP, EV_RESET, ARG
    EXPECT_EAX 0, 19
    mov dword [ARG], DOMID_SELF | (DOMID_SELF << 16)
    HC HC_EVTCHN_OP, EV_ALLOC, ARG
    EXPECT_EAX 0, 20
    XENO_EXIT 0
    align 4
bad_ports: dd 0, 4096, 0xffffffff
bad_ports_end:
bad_args:  dd 0xfee00000, (16 << 20) - 4, 0xfffffff0
bad_args_end:
    ADV_ROUTINES
