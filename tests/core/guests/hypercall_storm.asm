; hypercall_storm: a hostile guest for the Xen interface (docs/xen-abi.md).
; In 32-bit protected mode with paging off it makes HYPERCALLS hypercalls
; through VMCALL with Xen's 32-bit register convention, choosing the
; hypercall, its sub-operation and its arguments from a fixed-seed LCG:
; pointers into scratch RAM full of random words, into its own RAM's end,
; into the MMIO hole, past RAM, and plain random numbers; it also writes
; the hypercall-page MSR with random pages of scratch RAM (a #GP for the
; bad ones is caught and skipped). SCHEDOP_block, SCHEDOP_poll,
; SCHEDOP_shutdown and SCHEDOP_watchdog are left out: they would end or
; park the run, which is their purpose, not an attack. Interrupts stay off,
; so upcalls it arms are never taken. It ends with status 0 after the
; storm; tests/core/hypercall_storm_test.cpp runs it next to a decoy on
; both profiles and paging modes and checks that the hypervisor survives,
; answered every call, and touched nothing outside the guest.
%include "xeno.inc"

HYPERCALLS  equ 30000
SCRATCH     equ 0x100000        ; 3 MiB of random words the pointers mostly hit
SCRATCH_LEN equ 0x300000
IDT         equ 0x7000
STACK_TOP   equ 0x6ff0
RAM_END     equ 16 << 20
SEED        equ 0x2545f491

    org 0x8000
    bits 16
start:
    XENO_REAL_MODE_START STACK_TOP
    XENO_ENTER_PM32 pm32, STACK_TOP

    bits 32
pm32:
    ; #GP (13) skips the 2-byte WRMSR that raised it; every other vector
    ; ends the run with status 13 + vector so the test sees which.
    mov edi, IDT
    mov ecx, 32
    mov ebx, other_fault
.idt:
    mov eax, ebx
    mov [edi], ax
    mov word [edi + 2], XENO_CODE32_SEL
    mov word [edi + 4], 0x8e00
    shr eax, 16
    mov [edi + 6], ax
    add edi, 8
    loop .idt
    mov eax, gp_fault
    mov [IDT + 13 * 8], ax
    shr eax, 16
    mov [IDT + 13 * 8 + 6], ax
    lidt [idt_desc]

    ; Scratch RAM: random words.
    mov dword [rng], SEED
    mov edi, SCRATCH
    mov ecx, SCRATCH_LEN / 4
.fill:
    call random
    mov [edi], eax
    add edi, 4
    loop .fill

    mov dword [count], HYPERCALLS
.storm:
    ; Every 64th round: the hypercall-page MSR, at a random page of RAM
    ; below 16 MiB but above the guest's own code (or a random value).
    call random
    test eax, 63
    jnz .call
    call random
    and eax, 0x00fff000
    cmp eax, SCRATCH
    jb .call
    mov ecx, 0x40000000
    xor edx, edx
    wrmsr
.call:
    call random
    mov esi, eax
    and esi, 15
    movzx eax, byte [calls + esi]      ; the hypercall number
    cmp al, 0xff
    jne .have_number
    call random                       ; a random number, mostly unknown ones
    and eax, 0x3f
.have_number:
    mov [number], eax
    call random
    and eax, 15                       ; the sub-operation: small, or
    cmp eax, 12
    jb .have_cmd
    call random                       ; any 32-bit value
.have_cmd:
    mov [cmd], eax
    ; SCHEDOP_block/poll/shutdown/watchdog would park or end the run.
    cmp dword [number], 29
    jne .args
    cmp dword [cmd], 1
    je .storm_next
    cmp dword [cmd], 2
    je .storm_next
    cmp dword [cmd], 3
    je .storm_next
    cmp dword [cmd], 6
    je .storm_next
.args:
    call pointer
    mov [arg2], eax
    call pointer
    mov [arg3], eax
    call pointer
    mov [arg4], eax
    call pointer
    mov [arg5], eax
    mov eax, [number]
    mov ebx, [cmd]
    mov ecx, [arg2]
    mov edx, [arg3]
    mov esi, [arg4]
    mov edi, [arg5]
    vmcall
    ; A result is 0, a count, or a Xen error number (-1 .. -125): anything
    ; else from the hypervisor is a bug the test reports (status 3).
    cmp eax, -125
    jae .storm_next
    cmp eax, 0x1000000
    jb .storm_next
    XENO_EXIT 3
.storm_next:
    dec dword [count]
    jnz .storm
    XENO_EXIT 0

; A pointer argument: into scratch RAM (most), the last bytes of RAM
; (structures crossing its end), the local APIC and I/O APIC pages, past
; RAM, or a random number.
pointer:
    call random
    mov ecx, eax
    and ecx, 7
    call random
    cmp ecx, 4
    jb .scratch
    je .ram_end
    cmp ecx, 5
    je .mmio
    cmp ecx, 6
    je .past_ram
    ret                                ; a random value
.scratch:
    and eax, SCRATCH_LEN - 1
    add eax, SCRATCH
    ret
.ram_end:
    and eax, 63
    add eax, RAM_END - 32
    ret
.mmio:
    and eax, 0x1ff0
    add eax, 0xfec00000
    test ecx, 1
    jz .ret
    add eax, 0xfee00000 - 0xfec00000
.ret:
    ret
.past_ram:
    and eax, 0x0fffffff
    add eax, RAM_END
    ret

; eax = the next LCG value (Numerical Recipes' constants), high bits mixed down.
random:
    mov eax, [rng]
    imul eax, eax, 1664525
    add eax, 1013904223
    mov [rng], eax
    push edx
    mov edx, eax
    shr edx, 13
    xor eax, edx
    pop edx
    ret

gp_fault:
    add esp, 4                         ; the error code
    add dword [esp], 2                 ; past WRMSR
    iret

other_fault:
    XENO_EXIT 13

    align 4
; Hypercall numbers chosen from (0xff: a random one).
calls:  db 17, 18, 12, 34, 24, 32, 20, 29, 17, 32, 24, 34, 0xff, 0xff, 32, 24
idt_desc:
    dw 32 * 8 - 1
    dd IDT
rng:    dd 0
count:  dd 0
number: dd 0
cmd:    dd 0
arg2:   dd 0
arg3:   dd 0
arg4:   dd 0
arg5:   dd 0
    XENO_FLAT_GDT
