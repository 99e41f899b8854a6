; sipi_storm: smp=2; the BSP sends INIT-SIPI to the AP 300 times, whether
; it is running, halted or waiting for SIPI; each start runs the trampoline,
; which counts and halts. The BSP then checks the AP started at least once
; per INIT-SIPI pair it waited for. Status 0.
%include "adv_smp.inc"
ROUNDS equ 300
    ADV_SMP bsp, ap
bsp:
    xor esi, esi
.round:
    mov edi, [starts]
    call adv_start_ap
.wait:
    pause
    cmp [starts], edi
    je .wait
    inc esi
    cmp esi, ROUNDS
    jb .round
    cmp dword [starts], ROUNDS
    FAIL_IF ne, 2
    XENO_EXIT 0
ap:
    lock inc dword [starts]
.halt:
    cli
    hlt
    jmp .halt
    align 4
starts: dd 0
    ADV_ROUTINES
