; ipi_pingpong: IPI round trips between two vcpus (smp=2), for ipi_ns.
; The BSP starts the AP (INIT-SIPI-SIPI, platform.inc), which enables its
; local APIC, points its ICR destination at the BSP and waits in STI; HLT.
; In the window (between two MARKs) the BSP does param0 round trips: a fixed
; IPI (REQUEST_VECTOR) to APIC ID 1 through the ICR (the destination in
; ICR_HIGH is written once, so each send is one ICR_LOW write), then waits
; in STI; HLT until the AP's answer arrived. The AP's handler counts the
; request, sends REPLY_VECTOR back to APIC ID 0, EOIs and returns to its
; HLT; the BSP's handler counts the reply and EOIs. Both wait in HLT because
; Xeno runs the vcpus on one host CPU: a vcpu that spun instead would keep
; the CPU for its whole time slice (1 ms) before the other could answer.
; So a round trip is: BSP ICR write, HLT, switch to the AP, injection, AP
; handler (ICR write, EOI), AP HLT, switch to the BSP, injection, BSP
; handler (EOI). After the window it prints
; "requests=<hex> replies=<hex>" and exits 0.
%include "platform.inc"

REQUEST_VECTOR equ 0x41
REPLY_VECTOR   equ 0x42

    org 0x8000
    BENCH_HEADER kernel, kernel_end, 0, 0
    jmp bsp_start16
    AP_TRAMPOLINE ap_main

    bits 16
bsp_start16:
    XENO_ENTER_PM32 main32, STACK_TOP

    bits 32
main32:
    call idt_init
    mov ecx, REQUEST_VECTOR
    mov eax, ap_request
    call idt_set
    mov ecx, REPLY_VECTOR
    mov eax, bsp_reply
    call idt_set
    call mask_pics
    mov eax, 1
    call start_aps
    mov dword [APIC_ICR_HIGH], 1 << 24      ; destination: APIC ID 1, for every send
    jmp kernel

    align 16
kernel:
    mov edi, [bench_param0]     ; round trips
    xor esi, esi                ; requests sent
    MARK
    test edi, edi
    jz .done
.round:
    mov dword [APIC_ICR_LOW], ICR_ASSERT | ICR_FIXED | REQUEST_VECTOR
    inc esi
.wait:
    cli
    cmp [replies], esi
    jae .answered
    sti
    hlt                         ; STI's shadow: a reply already pending is taken after the HLT
    jmp .wait
.answered:
    cmp esi, edi
    jb .round
.done:
kernel_end:
    MARK
    mov esi, msg_requests
    mov eax, [requests]
    call report
    mov esi, msg_replies
    mov eax, [replies]
    call report
    mov al, 10
    call xeno_putc32
    XENO_EXIT 0

; The AP, in 32-bit protected mode with its APIC enabled (AP_TRAMPOLINE).
ap_main:
    mov dword [APIC_ICR_HIGH], 0            ; destination: the BSP, for every send
    lock inc dword [aps_ready]
.idle:
    sti
    hlt
    jmp .idle

ap_request:
    inc dword [requests]
    mov dword [APIC_ICR_LOW], ICR_ASSERT | ICR_FIXED | REPLY_VECTOR
    mov dword [APIC_EOI], 0
    iret

bsp_reply:
    inc dword [replies]
    mov dword [APIC_EOI], 0
    iret

    PLATFORM_ROUTINES
msg_requests: db "requests=", 0
msg_replies:  db " replies=", 0
    align 4
requests:     dd 0
replies:      dd 0
