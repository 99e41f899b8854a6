; pt_wild_frames: 64-bit page tables whose leaves point where the guest has
; no RAM: just past its 16 MiB, at 4 GiB, at 60 GiB, at the last page below
; MAXPHYADDR (CPUID 0x80000008), a 2 MiB page at 1 GiB and, where the CPU
; has them, a 1 GiB page at 2 GiB; and leaves with bits at or above
; MAXPHYADDR. Reads through the first kind give all ones and writes are
; dropped (SDM 4.4: the translation is fine, the bus has nothing); the
; second kind are reserved-bit page faults, error code P | RSVD (| W)
; (SDM 4.7). A leaf at the local APIC page reads its version register as
; the identity mapping does. Status 0 when every check held.
%include "adv.inc"
WILD     equ 0x100000000         ; PDPT[4]: the window the wild leaves are in
PD_W     equ 0x200000
PT_W     equ 0x201000
    ADV_LONG main
main:
    mov eax, 0x80000008
    cpuid
    movzx ecx, al
    mov [maxphy], ecx
    mov rdi, PD_W
    mov ecx, 1024
    xor eax, eax
    rep stosq
    mov qword [ADV_PDPT + 4 * 8], PD_W | 3
    mov qword [PD_W], PT_W | 3
    mov rax, 0x40000000 | 0x83            ; PD_W[1]: a 2 MiB page at 1 GiB
    mov [PD_W + 8], rax
    ; PT_W[i]: the leaves
    mov rax, 0x1010000 | 3                ; past RAM
    mov [PT_W + 0 * 8], rax
    mov rax, 0x100000000 | 3              ; 4 GiB
    mov [PT_W + 1 * 8], rax
    mov rax, 0xf00000000 | 3              ; 60 GiB
    mov [PT_W + 2 * 8], rax
    mov ecx, [maxphy]
    mov rax, 1
    shl rax, cl
    sub rax, 0x1000
    or rax, 3                             ; the last page below MAXPHYADDR
    mov [PT_W + 3 * 8], rax
    mov rax, 1
    shl rax, cl
    or rax, 3                             ; bit MAXPHYADDR: reserved
    mov [PT_W + 4 * 8], rax
    mov rax, (1 << 51) | 3                ; bit 51: reserved on every CPU
    mov [PT_W + 5 * 8], rax
    mov rax, 0xfee00000 | 3               ; the local APIC page
    mov [PT_W + 6 * 8], rax
    mov rax, cr3
    mov cr3, rax

    ; The floating bus through leaves 0-3 and the 2 MiB page.
    mov rsi, WILD
    mov ecx, 4
.ones:
    EXPECT faulted
    mov eax, [rsi + 0x10]
    cmp eax, 0xffffffff
    FAIL_IF ne, 2
    mov dword [rsi + 0x10], 0
    cmp dword [rsi + 0x10], 0xffffffff
    FAIL_IF ne, 3
    NO_FAULT 1
    add rsi, 0x1000
    dec ecx
    jnz .ones
    mov rsi, WILD + 0x200000 + 0x1234
    EXPECT faulted
    mov dword [rsi], 0
    cmp dword [rsi], 0xffffffff
    FAIL_IF ne, 4
    NO_FAULT 1
    ; Reserved bits: #PF, P | RSVD for a read, P | W | RSVD for a write.
    mov rsi, WILD + 4 * 0x1000
    mov ecx, 2
.rsvd:
    EXPECT .read_faulted
    mov eax, [rsi]
    XENO_EXIT 5
.read_faulted:
    FAULTED_ERR 14, 0x9, 5
    mov rax, cr2
    cmp rax, rsi
    FAIL_IF ne, 6
    EXPECT .write_faulted
    mov dword [rsi], 0
    XENO_EXIT 7
.write_faulted:
    FAULTED_ERR 14, 0xb, 7
    add rsi, 0x1000
    dec ecx
    jnz .rsvd
    ; The local APIC through its own leaf: the version register as identity.
    mov eax, 0xfee00030
    mov eax, [rax]
    mov rsi, WILD + 6 * 0x1000
    cmp eax, [rsi + 0x30]
    FAIL_IF ne, 8
    ; A 1 GiB page at 2 GiB (PDPT[5]): floating bus if the CPU has 1 GiB
    ; pages (CPUID 80000001H:EDX[26]), else PS in a PDPTE is reserved.
    mov rax, 0x80000000 | 0x83
    mov [ADV_PDPT + 5 * 8], rax
    mov rax, cr3
    mov cr3, rax
    mov eax, 0x80000001
    cpuid
    mov rsi, 0x140000000
    bt edx, 26
    jnc .no_1g
    EXPECT faulted
    cmp dword [rsi], 0xffffffff
    FAIL_IF ne, 9
    NO_FAULT 1
    XENO_EXIT 0
.no_1g:
    EXPECT .g_faulted
    mov eax, [rsi]
    XENO_EXIT 10
.g_faulted:
    FAULTED_ERR 14, 0x9, 10
    XENO_EXIT 0
faulted:
    XENO_EXIT 1
    align 4
maxphy: dd 0
    ADV_ROUTINES
