; smp_compute: the same compute loop on every vcpu at once, for
; smp4_insns_ratio: guest instructions per host second with 4 busy vcpus
; against 1.
; param1 = the vcpus (1..4; the hypervisor runs with smp=param1). With more
; than one, the BSP starts the APs (INIT-SIPI-SIPI, platform.inc), which
; check in and wait in STI; HLT. The window opens with a MARK; the BSP sets
; `go`, wakes the APs with a broadcast fixed IPI (all excluding self) and
; every vcpu runs param0 iterations of busy_loop.asm's checksum loop
; (17 instructions, loads, stores and ALU, no VM exit) over its own 4 KiB
; buffer. Each stores its checksum and counts itself done with LOCK XADD;
; the last one closes the window with a MARK, checks that every vcpu got
; the same checksum, prints "sum=<hex>" and exits 0 (3 if they differ); the
; others halt with IF=0 (no exit, no further instructions).
%include "platform.inc"

GO_VECTOR   equ 0x40
BUFFERS     equ 0x100000            ; vcpu n's buffer at BUFFERS + n * 0x2000 (1025 dwords used)
MAX_VCPUS   equ 4

    org 0x8000
    BENCH_HEADER compute, compute_end, 17, 5
    jmp bsp_start16
    AP_TRAMPOLINE ap_main

    bits 16
bsp_start16:
    XENO_ENTER_PM32 main32, STACK_TOP

    bits 32
main32:
    call idt_init
    mov ecx, GO_VECTOR
    mov eax, go_irq
    call idt_set
    call mask_pics
    mov eax, [bench_param1]
    dec eax                     ; APs
    jz .started
    call start_aps
.started:
    MARK
    mov dword [go], 1
    cmp dword [bench_param1], 1
    je .bsp_compute
    mov dword [APIC_ICR_HIGH], 0
    mov dword [APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_FIXED | GO_VECTOR
.bsp_compute:
    xor ebp, ebp                ; the BSP's slot
    jmp compute

; An AP (EBX = its start-up index): slot index + 1.
ap_main:
    lea ebp, [ebx + 1]
    lock inc dword [aps_ready]
.wait:
    cli
    cmp dword [go], 0
    jne compute
    sti
    hlt
    jmp .wait

go_irq:
    mov dword [APIC_EOI], 0
    iret

; The checksum loop of busy_loop.asm on slot EBP's buffer.
    align 16
compute:
    mov ecx, [bench_param0]     ; iterations
    mov esi, ebp
    shl esi, 13
    add esi, BUFFERS
    xor eax, eax                ; the checksum
    mov ebx, 0x9e3779b9
    xor edi, edi
    test ecx, ecx
    jz compute_end
.loop:
    mov edx, [esi + edi * 4]
    add eax, edx
    rol eax, 5
    xor eax, ebx
    mov edx, [esi + edi * 4 + 4]
    lea ebx, [ebx + edx * 2 + 1]
    sub ebx, eax
    mov [esi + edi * 4], eax
    imul edx, edx, 31
    add eax, edx
    mov [esi + edi * 4 + 4], ebx
    ror ebx, 3
    xor ebx, eax
    inc edi
    and edi, 0x3ff
    dec ecx
    jnz .loop
compute_end:
    mov [checksums + ebp * 4], eax
    mov eax, 1
    lock xadd [finished], eax
    inc eax
    cmp eax, [bench_param1]
    je .last
    cli
.halt:
    hlt                         ; IF=0: for good (the last vcpu ends the run)
    jmp .halt
.last:
    MARK
    mov eax, [checksums]
    mov ecx, [bench_param1]
.same:
    dec ecx
    cmp eax, [checksums + ecx * 4]
    jne .differ
    test ecx, ecx
    jnz .same
    mov esi, msg_sum
    call report
    mov al, 10
    call xeno_putc32
    XENO_EXIT 0
.differ:
    mov esi, msg_differ
    call report
    mov al, 10
    call xeno_putc32
    XENO_EXIT 3

    PLATFORM_ROUTINES
msg_sum:    db "sum=", 0
msg_differ: db "checksums differ, first ", 0
    align 4
go:         dd 0
finished:   dd 0
checksums:  times MAX_VCPUS dd 0
