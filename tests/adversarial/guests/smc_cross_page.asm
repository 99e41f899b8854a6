; smc_cross_page: self-modifying code across a page boundary. An
; instruction that straddles 0x21000 (MOV EAX, imm32 from 0x20ffd) is run,
; its immediate rewritten on both pages and run again, 1000 times, each
; run returning the new value (SDM Vol. 3A 11.6: a store to code that is
; then executed takes effect). Then the same bytes become an MMIO load that
; the hypervisor emulates (MOV EAX, [0xfee00030]: the local APIC version,
; fetched by the emulator across the page boundary), and are rewritten into
; a load of another register (0xfee000f0, the SVR): the emulator must
; decode the new bytes, not a stale copy. Status 0 when every run returned
; what the code said.
%include "adv.inc"
SITE     equ 0x20ffd
    ADV_PM32 main
main:
    mov byte [SITE], 0xb8                 ; MOV EAX, imm32
    mov byte [SITE + 5], 0xc3             ; RET
    mov ebx, 0x12345678
    mov ecx, 1000
.round:
    mov [SITE + 1], ebx                   ; the immediate: 0x20ffe..0x21001
    call SITE
    cmp eax, ebx
    FAIL_IF ne, 2
    rol ebx, 5
    add ebx, ecx
    loop .round
    ; The emulated load.
    mov eax, [0xfee00030]
    mov [version], eax
    mov eax, [0xfee000f0]
    mov [svr], eax
    mov byte [SITE], 0xa1                 ; MOV EAX, [moffs32]
    mov dword [SITE + 1], 0xfee00030
    call SITE
    cmp eax, [version]
    FAIL_IF ne, 3
    mov byte [SITE + 1], 0xf0             ; on the first page
    call SITE
    cmp eax, [svr]
    FAIL_IF ne, 4
    mov dword [SITE + 1], 0xfee00030      ; both pages
    call SITE
    cmp eax, [version]
    FAIL_IF ne, 5
    XENO_EXIT 0
    align 4
version: dd 0
svr:     dd 0
    ADV_ROUTINES
