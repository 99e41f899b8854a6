; vcpu_op_abuse: vcpu_op misuse from 32-bit protected mode, each answer as
; docs/xen-abi.md says: vcpu ids 1 and 2^32 - 1 of a 1-vcpu domain
; (-ENOENT); register_vcpu_info past RAM, in MMIO, at offset 4090 (-EINVAL)
; and with its argument in MMIO (-EFAULT); a periodic timer of 1 us
; (-EINVAL); a singleshot timer in the past with VCPU_SSHOTTMR_future
; (-ETIME); a vcpu_time area misaligned or across a page (-EINVAL);
; initialise and an unknown command (-ENOSYS). Status 0.
%include "adv.inc"
%include "adv_xen.inc"
VCPUOP_IS_UP        equ 3
VCPUOP_PERIODIC     equ 6
VCPUOP_SINGLESHOT   equ 8
VCPUOP_VCPU_INFO    equ 10
VCPUOP_TIME_AREA    equ 13
ARG equ 0x20000
    ADV_PM32 main
main:
    HC HC_VCPU_OP, VCPUOP_IS_UP, 0, 0
    EXPECT_EAX 1, 2
    HC HC_VCPU_OP, VCPUOP_IS_UP, 1, 0
    EXPECT_EAX -ENOENT, 3
    HC HC_VCPU_OP, VCPUOP_IS_UP, 0xffffffff, 0
    EXPECT_EAX -ENOENT, 3
    mov esi, bad_infos
.info:
    mov eax, [esi]
    mov [ARG], eax                        ; mfn (64-bit)
    mov dword [ARG + 4], 0
    mov eax, [esi + 4]
    mov [ARG + 8], eax                    ; offset
    mov dword [ARG + 12], 0
    push esi
    HC HC_VCPU_OP, VCPUOP_VCPU_INFO, 0, ARG
    pop esi
    EXPECT_EAX -EINVAL, 4
    add esi, 8
    cmp esi, bad_infos_end
    jb .info
    HC HC_VCPU_OP, VCPUOP_VCPU_INFO, 0, 0xfee00000
    EXPECT_EAX -EFAULT, 5
    mov dword [ARG], 1000                 ; period_ns: 1 us
    mov dword [ARG + 4], 0
    HC HC_VCPU_OP, VCPUOP_PERIODIC, 0, ARG
    EXPECT_EAX -EINVAL, 6
    mov dword [ARG], 1                    ; timeout_abs_ns: 1, long past
    mov dword [ARG + 4], 0
    mov dword [ARG + 8], 1                ; VCPU_SSHOTTMR_future
    HC HC_VCPU_OP, VCPUOP_SINGLESHOT, 0, ARG
    EXPECT_EAX -ETIME, 7
    mov dword [ARG], 0x20003              ; misaligned
    mov dword [ARG + 4], 0
    HC HC_VCPU_OP, VCPUOP_TIME_AREA, 0, ARG
    EXPECT_EAX -EINVAL, 8
    mov dword [ARG], 0x20ff8              ; across a page (the structure is 32 bytes)
    HC HC_VCPU_OP, VCPUOP_TIME_AREA, 0, ARG
    EXPECT_EAX -EINVAL, 9
    HC HC_VCPU_OP, 0, 0, ARG              ; initialise
    EXPECT_EAX -ENOSYS, 10
    HC HC_VCPU_OP, 99, 0, ARG
    EXPECT_EAX -ENOSYS, 11
    XENO_EXIT 0
    align 4
bad_infos:
    dd 0x2000, 0                          ; frame 32 MiB: past RAM
    dd 0xfee00, 0                         ; the local APIC page
    dd 0x30, 4090                         ; 64 bytes from 4090 cross the page
bad_infos_end:
    ADV_ROUTINES
