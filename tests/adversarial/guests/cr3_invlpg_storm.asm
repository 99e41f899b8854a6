; cr3_invlpg_storm: 10 000 rounds over 16 address spaces: each round loads
; the next CR3 (16 PML4s sharing the identity map, each with its own chain
; for 512 GiB), checks that the window shows this space's page, rewrites a
; PTE of the live tables to one of 16 frames, INVLPGs it and checks the new
; mapping, and INVLPGs an address from an LCG (canonical or not: INVLPG of a
; non-canonical address is a no-op, SDM Vol. 2A INVLPG). With shadow
; paging this churns the hypervisor's shadow roots and write-protected
; tables; every read must still match what the guest's tables say. Status
; 0 when all 10 000 rounds did.
%include "adv.inc"
SPACES   equ 16
ROUNDS   equ 10000
BASE     equ 0x300000             ; space i: PML4, PDPT, PD, PT, data at BASE + i * 0x5000
WINDOW   equ 0x8000000000         ; PML4[1]
    ADV_LONG main
main:
    mov rdi, BASE
    mov ecx, SPACES * 0x5000 / 8
    xor eax, eax
    rep stosq
    xor ecx, ecx
.build:
    imul rbx, rcx, 0x5000
    add rbx, BASE
    mov rax, ADV_PDPT | 3
    mov [rbx], rax                        ; PML4_i[0]: the identity map
    lea rax, [rbx + 0x1003]
    mov [rbx + 8], rax                    ; PML4_i[1] -> PDPT_i
    lea rax, [rbx + 0x2003]
    mov [rbx + 0x1000], rax               ; PDPT_i[0] -> PD_i
    lea rax, [rbx + 0x3003]
    mov [rbx + 0x2000], rax               ; PD_i[0] -> PT_i
    lea rax, [rbx + 0x4003]
    mov [rbx + 0x3000], rax               ; PT_i[0] -> data_i
    mov [rbx + 0x3010], rax               ; PT_i[2] -> data_i (rewritten each round)
    mov [rbx + 0x4000], ecx               ; data_i: i
    inc ecx
    cmp ecx, SPACES
    jb .build
    mov r12, 0x2545f4914f6cdd1d           ; the LCG
    mov r13, 6364136223846793005
    mov r11, 1442695040888963407
    xor r15, r15                          ; round
    mov r14, WINDOW
.round:
    mov rcx, r15
    and ecx, SPACES - 1
    imul rbx, rcx, 0x5000
    add rbx, BASE
    mov cr3, rbx
    cmp [r14], ecx
    FAIL_IF ne, 2
    ; PT_i[2] -> data_j, j = round / 16 mod 16, through the identity map.
    mov rdx, r15
    shr rdx, 4
    and edx, SPACES - 1
    imul rax, rdx, 0x5000
    add rax, BASE + 0x4003
    mov [rbx + 0x3010], rax
    invlpg [r14 + 0x2000]
    cmp [r14 + 0x2000], edx
    FAIL_IF ne, 3
    imul r12, r13                         ; Knuth's MMIX LCG
    add r12, r11
    invlpg [r12]
    inc r15
    cmp r15, ROUNDS
    jb .round
    XENO_EXIT 0
    ADV_ROUTINES
