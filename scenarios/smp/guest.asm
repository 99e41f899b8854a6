; smp: a multiprocessor start-up and the local APICs' IPIs, with 4 vcpus.
;
; The BSP (32-bit protected mode) enables its local APIC and starts the three
; APs with INIT-SIPI-SIPI through the ICR (SDM Vol. 3A 9.4.4, "MP
; Initialization Example": INIT, 10 ms, SIPI, 200 us, SIPI) to the trampoline
; at 0x9000 (SIPI vector 0x09). Each AP goes from real mode to protected mode
; and on to 64-bit long mode (PAE page tables the BSP built: the first 4 GiB
; identity-mapped with 2 MiB pages, the APICs included), enables its local
; APIC, checks in with LOCK XADD, and runs 1000 rounds of a ticket spinlock
; (LOCK XADD) around a plain read-modify-write of a shared counter. Then the
; APs wait for IPIs with HLT, and the BSP sends, one round at a time, waiting
; for each round's acknowledgement: a fixed IPI to each AP by physical APIC
; ID, a broadcast fixed IPI (all excluding self), an NMI to AP 2, a fixed IPI
; to a logical destination (flat model: APs 1 and 3 by their LDR bits), and
; the broadcast that ends the APs' loop (they then halt with IF=0).
;
; Race-free by construction: the BSP waits for the APs by spinning on memory
; (no VM exits) and sends a round only after the previous one was handled, so
; each vcpu's own sequence of VM exits is the same however the vcpus are
; interleaved (the trace comparison looks at each vcpu's exits on their own).
%include "xeno_irq.inc"                ; with xeno.inc, xeno_check.inc, xeno_pc.inc

; The ICR (SDM Vol. 3A 11.6.1; the local APIC's registers: xeno_pc.inc).
ICR_FIXED       equ 0x0000
ICR_NMI         equ 0x0400
ICR_INIT        equ 0x0500
ICR_STARTUP     equ 0x0600
ICR_LOGICAL     equ 0x0800
ICR_ASSERT      equ 0x4000
ICR_ALL_BUT_SELF equ 0xc0000

APS             equ 3
ROUNDS          equ 1000         ; spinlock rounds per AP
SIPI_VECTOR     equ 0x09         ; the trampoline at 0x9000
VEC_FIXED       equ 0x40
VEC_BROADCAST   equ 0x41
VEC_LOGICAL     equ 0x42
VEC_STOP        equ 0x43

PML4            equ 0x20000      ; PML4, PDPT, 4 page directories: 0x20000-0x25fff
IDT64           equ 0x28000      ; 256 16-byte gates
AP_STACKS       equ 0x30000      ; AP n's stack top: AP_STACKS + n * 0x1000

    org 0x8000

start:
    jmp bsp_start

; ---- the AP trampoline: 0x9000, entered in real mode with CS=0x0900, IP=0 ----
    times 0x1000 - ($ - $$) db 0
    bits 16
ap_start:
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdt_desc]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    jmp dword CODE32:ap_pm32

    bits 32
ap_pm32:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov eax, 1
    lock xadd [ap_counter], eax     ; this AP's index 0..2 (in start-up order)
    lea esp, [eax + 2]
    shl esp, 12
    add esp, AP_STACKS              ; stack top AP_STACKS + (index + 2) * 0x1000
    ; Long mode (SDM Vol. 3A 10.8.5): PAE, CR3, EFER.LME, then CR0.PG.
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, PML4
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp CODE64:ap_long

    bits 64
ap_long:
    lidt [idt64_desc]
    ; In 64-bit code a 32-bit absolute address is sign-extended: the APIC
    ; page (above 2 GiB) is reached through R15.
    mov r15, XENO_LAPIC
    mov dword [r15 + XENO_APIC_SVR], 0x1ff    ; software enable, spurious vector 0xff
    mov eax, [r15 + XENO_APIC_ID]
    shr eax, 24                               ; this AP's APIC ID: 1..3
    mov ebx, eax
    mov dword [r15 + XENO_APIC_DFR], 0xffffffff    ; flat model
    mov ecx, ebx
    mov eax, 1
    shl eax, cl
    shl eax, 24
    mov [r15 + XENO_APIC_LDR], eax            ; logical ID: bit n for APIC ID n
    mov byte [ap_in_long_mode + rbx], 1
    lock inc dword [checked_in]

    ; The spinlock: take a ticket with LOCK XADD, wait for it to be served.
    mov ecx, ROUNDS
.round:
    mov eax, 1
    lock xadd [next_ticket], eax
.wait_turn:
    cmp [now_serving], eax
    je .got_it
    pause
    jmp .wait_turn
.got_it:
    mov edx, [shared_counter]                 ; not atomic: the lock makes it safe
    inc edx
    mov [shared_counter], edx
    lock inc dword [now_serving]
    dec ecx
    jnz .round
    lock inc dword [work_done]

    ; Wait for IPIs until the BSP says stop.
.wait_ipi:
    cli
    cmp byte [stop], 0
    jne .stopped
    sti
    hlt                                       ; the IPI wakes it (STI's shadow covers HLT)
    jmp .wait_ipi
.stopped:
    lock inc dword [aps_stopped]
.halt:
    hlt                                       ; IF=0: halted for good (the BSP ends the run)
    jmp .halt

; AP interrupt handlers (64-bit): count per APIC ID, EOI.
%macro AP_HANDLER 2
%1:
    push rax
    mov eax, [r15 + XENO_APIC_ID]
    shr eax, 24
    lock inc dword [%2 + rax * 4]
    mov dword [r15 + XENO_APIC_EOI], 0
    pop rax
    iretq
%endmacro
    AP_HANDLER ap_fixed, fixed_count
    AP_HANDLER ap_broadcast, broadcast_count
    AP_HANDLER ap_logical, logical_count
ap_stop:
    push rax
    mov byte [stop], 1
    mov dword [r15 + XENO_APIC_EOI], 0
    pop rax
    iretq
ap_nmi:                                       ; NMIs get no EOI
    push rax
    mov eax, [r15 + XENO_APIC_ID]
    shr eax, 24
    lock inc dword [nmi_count + rax * 4]
    pop rax
    iretq
ap_exception:
    mov byte [ap_fault], 1
.dead:
    cli
    hlt
    jmp .dead

; ---- the BSP ----
    bits 16
bsp_start:
    XENO_ENTER_PM32 bsp_main, 0x7000

    bits 32
bsp_main:
    call build_page_tables
    call build_idt64
    call xeno_idt32_setup           ; every vector -> bsp_unexpected (none is expected)
    ; The BSP waits for the APs by spinning with IF=1 (no interrupt is ever
    ; sent to it): Bochs 2.7 does not make a host interrupt exit a VMX guest
    ; that runs with IF=0 (it re-evaluates its interrupt mask only when IF
    ; changes), so a guest spinning with IF=0 could not be preempted there.
    sti
    mov dword [XENO_LAPIC + XENO_APIC_SVR], 0x1ff
    mov eax, [XENO_LAPIC + XENO_APIC_ID]
    shr eax, 24
    cmp eax, 0
    CHECK32 "bsp-apic-id-0"
    mov eax, [XENO_LAPIC + XENO_APIC_VERSION]
    and eax, 0xff
    cmp eax, 0x14
    CHECK32 "apic-version"
    ; CPUID shows the domain as one package of 4 cores, a thread each:
    ; leaf 1 HTT and 4 addressable logical processor IDs (EBX[23:16]),
    ; leaf 4 4 addressable cores (EAX[31:26] + 1). As 0x3104.
    mov eax, 1
    cpuid
    mov esi, ebx
    shr esi, 16
    and esi, 0xff
    and edx, 1 << 28
    shr edx, 20
    or esi, edx
    mov eax, 4
    xor ecx, ecx
    cpuid
    shr eax, 26
    shl eax, 12
    or eax, esi
    cmp eax, 0x3104
    CHECK32 "cpuid-one-package-of-4-cores"

    ; INIT, 10 ms, SIPI, 200 us, SIPI: to all excluding self.
    mov dword [XENO_LAPIC + XENO_APIC_ICR_HIGH], 0
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT
    mov ecx, 10000000
    call xeno_spin_ecx
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP | SIPI_VECTOR
    mov ecx, 200000
    call xeno_spin_ecx
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP | SIPI_VECTOR
    mov eax, [XENO_LAPIC + XENO_APIC_ICR_LOW]
    and eax, 0x1000                           ; delivery status: sends complete at once
    cmp eax, 0
    CHECK32 "icr-delivery-status-idle"

    mov eax, APS
    mov ebx, checked_in
    call wait_count
    mov eax, [checked_in]
    cmp eax, APS
    CHECK32 "aps-started"
    mov eax, [ap_in_long_mode + 1]
    and eax, 0xffffff                         ; APIC IDs 1, 2, 3
    cmp eax, 0x010101
    CHECK32 "aps-in-long-mode-with-apic-ids-1-2-3"

    mov eax, APS
    mov ebx, work_done
    call wait_count
    mov eax, [shared_counter]
    cmp eax, APS * ROUNDS
    CHECK32 "spinlock-counter"

    ; A fixed IPI to each AP by physical APIC ID, one at a time.
    mov esi, 1
.each_ap:
    mov eax, esi
    shl eax, 24
    mov [XENO_LAPIC + XENO_APIC_ICR_HIGH], eax
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ASSERT | ICR_FIXED | VEC_FIXED
    mov eax, 1
    lea ebx, [fixed_count + esi * 4]
    call wait_count
    inc esi
    cmp esi, APS
    jbe .each_ap
    mov edi, fixed_count
    call sum_aps
    cmp eax, APS
    CHECK32 "fixed-ipi-to-each-ap"
    mov eax, [fixed_count]
    cmp eax, 0
    CHECK32 "fixed-ipi-not-to-self"

    ; A broadcast to all but self.
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_FIXED | VEC_BROADCAST
    mov edi, broadcast_count
    call wait_each_ap
    cmp eax, APS
    CHECK32 "broadcast-ipi-to-all-aps"

    ; An NMI to AP 2.
    mov dword [XENO_LAPIC + XENO_APIC_ICR_HIGH], 2 << 24
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ASSERT | ICR_NMI
    mov eax, 1
    mov ebx, nmi_count + 8
    call wait_count
    mov edi, nmi_count
    call sum_aps
    cmp eax, 1
    CHECK32 "nmi-ipi-to-ap-2-only"

    ; A logical destination: LDR bits 1 and 3 (flat model) = APs 1 and 3.
    mov dword [XENO_LAPIC + XENO_APIC_ICR_HIGH], ((1 << 1) | (1 << 3)) << 24
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_LOGICAL | ICR_ASSERT | ICR_FIXED | VEC_LOGICAL
    mov eax, 1
    mov ebx, logical_count + 4
    call wait_count
    mov eax, 1
    mov ebx, logical_count + 12
    call wait_count
    mov eax, [logical_count + 8]
    cmp eax, 0
    CHECK32 "logical-ipi-skips-ap-2"

    ; Stop: the APs leave their loop and halt with IF=0.
    mov dword [XENO_LAPIC + XENO_APIC_ICR_LOW], ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_FIXED | VEC_STOP
    mov eax, APS
    mov ebx, aps_stopped
    call wait_count
    mov eax, [aps_stopped]
    cmp eax, APS
    CHECK32 "aps-stopped"
    movzx eax, byte [ap_fault]
    cmp eax, 0
    CHECK32 "no-ap-exception"

    CHECK_SUMMARY32 "smp: all checks passed"
    XENO_EXIT 0

; Wait (spinning on memory, no VM exit) until the dword at EBX reaches EAX.
; Gives up after about 2^31 reads: the check that follows then fails.
wait_count:
    push ecx
    mov ecx, 0x7fffffff
.again:
    cmp [ebx], eax
    jae .done
    pause
    dec ecx
    jnz .again
.done:
    pop ecx
    ret

; Wait (as wait_count) until each AP's entry of the per-APIC-ID dword array at
; EDI is at least 1; then sum_aps.
wait_each_ap:
    push ebx
    push esi
    mov esi, 1
.next:
    mov eax, 1
    lea ebx, [edi + esi * 4]
    call wait_count
    inc esi
    cmp esi, APS
    jbe .next
    pop esi
    pop ebx
    ; fall through
; EAX = the sum of the APs' entries (APIC IDs 1 to APS) of the array at EDI.
sum_aps:
    push ecx
    xor eax, eax
    mov ecx, APS
.add:
    add eax, [edi + ecx * 4]
    loop .add
    pop ecx
    ret

; Identity map of the first 4 GiB with 2 MiB pages (PAE/4-level formats,
; SDM Vol. 3A 4.5): PML4[0] -> PDPT, PDPT[0..3] -> 4 page directories.
build_page_tables:
    mov edi, PML4
    mov ecx, 6 * 1024
    xor eax, eax
    rep stosd
    mov dword [PML4], PML4 + 0x1000 + 3
    xor ecx, ecx
.pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, PML4 + 0x2000 + 3
    mov [PML4 + 0x1000 + ecx * 8], eax
    inc ecx
    cmp ecx, 4
    jb .pdpt
    xor ecx, ecx
.pde:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                              ; present, writable, 2 MiB page
    mov [PML4 + 0x2000 + ecx * 8], eax
    mov eax, ecx
    shr eax, 11                               ; bits 63:32 of the address
    mov [PML4 + 0x2000 + ecx * 8 + 4], eax
    inc ecx
    cmp ecx, 2048
    jb .pde
    ret

; The APs' 64-bit IDT: exceptions -> ap_exception, NMI -> ap_nmi, the IPI
; vectors -> their handlers.
build_idt64:
    xor ecx, ecx
.gate:
    mov eax, ap_exception
    cmp ecx, 2
    jne .not_nmi
    mov eax, ap_nmi
.not_nmi:
    cmp ecx, VEC_FIXED
    jne .g1
    mov eax, ap_fixed
.g1:
    cmp ecx, VEC_BROADCAST
    jne .g2
    mov eax, ap_broadcast
.g2:
    cmp ecx, VEC_LOGICAL
    jne .g3
    mov eax, ap_logical
.g3:
    cmp ecx, VEC_STOP
    jne .g4
    mov eax, ap_stop
.g4:
    mov edi, ecx
    shl edi, 4
    add edi, IDT64
    mov [edi], ax
    mov word [edi + 2], CODE64
    mov word [edi + 4], 0x8e00               ; present, DPL 0, 64-bit interrupt gate
    shr eax, 16
    mov [edi + 6], ax
    mov dword [edi + 8], 0
    mov dword [edi + 12], 0
    inc ecx
    cmp ecx, 256
    jb .gate
    ret

    XENO_FAIL_HANDLER32 bsp_unexpected, "FAIL unexpected interrupt or exception on the BSP", 2
    XENO_IRQ_ROUTINES

CODE32 equ 0x08
DATA   equ 0x10
CODE64 equ 0x18
    align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff                     ; 0x08: 32-bit code
    dq 0x00cf92000000ffff                     ; 0x10: data
    dq 0x00af9a000000ffff                     ; 0x18: 64-bit code
gdt_end:
gdt_desc:
xeno_gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
    align 8
idt64_desc:
    dw 256 * 16 - 1
    dq IDT64

    align 4
ap_counter:      dd 0
checked_in:      dd 0
work_done:       dd 0
aps_stopped:     dd 0
next_ticket:     dd 0
now_serving:     dd 0
shared_counter:  dd 0
fixed_count:     dd 0, 0, 0, 0
broadcast_count: dd 0, 0, 0, 0
logical_count:   dd 0, 0, 0, 0
nmi_count:       dd 0, 0, 0, 0
ap_in_long_mode: db 0, 0, 0, 0
stop:            db 0
ap_fault:        db 0
    XENO_IDT32 256, bsp_unexpected, bsp_unexpected
