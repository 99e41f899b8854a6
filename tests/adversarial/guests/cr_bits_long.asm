; cr_bits_long: control-register nonsense in 64-bit mode, each refusal
; checked against the SDM (Vol. 3A 2.5 "Control Registers", MOV CR):
;   CR4: the reserved bits 15 and 26-31, VMXE and SMXE (no VMX or SMX in
;        the guest's CPUID), LA57 changed and PAE cleared in IA-32e mode:
;        #GP(0); each feature bit (UMIP, FSGSBASE, PCIDE, OSXSAVE, KL, SMEP,
;        SMAP, PKE, CET, PKS, UINTR) sets without a fault exactly when the
;        guest's CPUID reports the feature, else #GP(0)
;   CR3: bit 52 and up (past any MAXPHYADDR) and bit 63 without PCIDE: #GP(0)
;   CR8: bits 63:4 set: #GP(0)
; After every refused write the register reads as before. Status 0 when all
; held. (CR0 and CR4 bits 63:32, CR0.NW without CD and CR0.PG/PE cleared in
; 64-bit mode are the processor's own checks when the write does not exit:
; cr_native_long.)
%include "adv.inc"
    ADV_LONG main
main:
    mov rax, cr0
    or eax, 1 << 16             ; CR0.WP (CET needs it)
    mov cr0, rax
    mov r15, cr0
    ; CR4: the bits no CPU of this guest may set.
    mov r14, cr4
    mov rsi, always_gp
.gp_bit:
    mov rax, r14
    mov ecx, [rsi]
    bts rax, rcx
    TRY_GP 5, mov cr4, rax
    call same_cr4
    add rsi, 4
    cmp rsi, always_gp_end
    jb .gp_bit
    mov rax, r14
    btr rax, 5                  ; PAE off in IA-32e mode
    TRY_GP 6, mov cr4, rax
    call same_cr4
    ; The legacy bits: set and cleared again without a fault.
    mov rsi, plain_bits
.plain:
    mov rax, r14
    mov ecx, [rsi]
    bts rax, rcx
    TRY_OK 7, mov cr4, rax
    TRY_OK 7, mov cr4, r14
    add rsi, 4
    cmp rsi, plain_end
    jb .plain
    ; The feature bits: as the guest's CPUID says.
    xor eax, eax
    cpuid
    mov [max_leaf], eax
    mov rsi, feature_bits
.feature:
    call cpuid_bit              ; CF = the feature
    setc dl
    mov rax, r14
    mov ecx, [rsi]
    bts rax, rcx
    test dl, dl
    jnz .supported
    TRY_GP 8, mov cr4, rax
    call same_cr4
    jmp .feature_next
.supported:
    TRY_OK 9, mov cr4, rax
    mov rbx, cr4
    cmp rbx, rax
    FAIL_IF ne, 10
    mov cr4, r14
.feature_next:
    add rsi, 16
    cmp rsi, feature_end
    jb .feature

    ; CR3: bits past MAXPHYADDR, bit 63 without PCIDE.
    mov r13, cr3
    mov rax, r13
    bts rax, 52
    TRY_GP 11, mov cr3, rax
    mov rax, r13
    bts rax, 62
    TRY_GP 11, mov cr3, rax
    mov rax, r13
    bts rax, 63
    TRY_GP 12, mov cr3, rax
    mov rax, cr3
    cmp rax, r13
    FAIL_IF ne, 13
    ; CR8: the TPR's 4 bits only.
    mov eax, 0x10
    TRY_GP 14, mov cr8, rax
    mov eax, 0x5
    TRY_OK 15, mov cr8, rax
    mov rax, cr8
    cmp rax, 5
    FAIL_IF ne, 16
    xor eax, eax
    mov cr8, rax
    XENO_EXIT 0

same_cr0:
    mov rax, cr0
    cmp rax, r15
    FAIL_IF ne, 20
    ret
same_cr4:
    mov rax, cr4
    cmp rax, r14
    FAIL_IF ne, 21
    ret

; RSI = a feature_bits entry: CF = the CPUID bit it names.
cpuid_bit:
    push rsi
    mov eax, [rsi + 4]          ; leaf
    cmp eax, [max_leaf]
    ja .absent
    xor ecx, ecx
    cpuid
    mov edi, [rsi + 8]          ; 0 EBX, 1 ECX, 2 EDX
    cmp edi, 1
    cmove ebx, ecx
    cmp edi, 2
    cmove ebx, edx
    mov ecx, [rsi + 12]
    pop rsi
    bt ebx, ecx
    ret
.absent:
    pop rsi
    clc
    ret

    align 4
max_leaf: dd 0
always_gp:  dd 12, 13, 14, 15, 26, 27, 28, 29, 30, 31
always_gp_end:
plain_bits: dd 0, 1, 2, 3, 4, 6, 7, 8, 9, 10
plain_end:
; CR4 bit, CPUID leaf, register (0 EBX, 1 ECX, 2 EDX), bit
feature_bits:
    dd 11, 7, 1, 2              ; UMIP
    dd 16, 7, 0, 0              ; FSGSBASE
    dd 17, 1, 1, 17             ; PCIDE (CR3[11:0] is 0)
    dd 18, 1, 1, 26             ; OSXSAVE
    dd 19, 7, 1, 23             ; KL
    dd 20, 7, 0, 7              ; SMEP
    dd 21, 7, 0, 20             ; SMAP
    dd 22, 7, 1, 3              ; PKE
    dd 23, 7, 1, 7              ; CET (CR0.WP is set)
    dd 24, 7, 1, 31             ; PKS
    dd 25, 7, 2, 5              ; UINTR
feature_end:
    ADV_ROUTINES
