; hypercall_misuse: the Xen interface used wrongly from 32-bit protected
; mode, each answer checked against docs/xen-abi.md: every hypercall number
; 0-63 and 2^31, 2^32 - 1 with sub-operation 0xdeadbeef (-ENOSYS: unknown
; hypercalls and sub-operations); console_io write of 17 MiB (-EINVAL) and
; from MMIO or across the end of RAM (-EFAULT); the hypercall-page MSR
; 0x40000000 read (#GP), written with a page past RAM, in MMIO, above 4 GiB
; or with page index 1 (#GP each), then with a good page, which must hold
; `mov eax, n; vmcall; ret` at 32 n and UD2 in the IRET slot 23. Status 0.
%include "adv.inc"
%include "adv_xen.inc"
PAGE equ 0x21000
    ADV_PM32 main
main:
    xor edi, edi
.number:
    push edi
    mov eax, edi
    mov ebx, 0xdeadbeef
    xor ecx, ecx
    xor edx, edx
    xor esi, esi
    xor edi, edi
    vmcall
    pop edi
    EXPECT_EAX -ENOSYS, 2
    inc edi
    cmp edi, 64
    jb .number
    HC 0x80000000, 0
    EXPECT_EAX -ENOSYS, 3
    HC 0xffffffff, 0
    EXPECT_EAX -ENOSYS, 3
    ; console_io (CONSOLEIO_write = 0)
    HC HC_CONSOLE_IO, 0, 17 << 20, 0x20000
    EXPECT_EAX -EINVAL, 4
    HC HC_CONSOLE_IO, 0, 16, 0xfee00000
    EXPECT_EAX -EFAULT, 5
    HC HC_CONSOLE_IO, 0, 16, (16 << 20) - 8
    EXPECT_EAX -EFAULT, 6
    ; The hypercall-page MSR.
    mov ecx, 0x40000000
    TRY_GP 7, rdmsr
    mov esi, bad_pages
.bad_page:
    mov ecx, 0x40000000
    mov eax, [esi]
    mov edx, [esi + 4]
    TRY_GP 8, wrmsr
    add esi, 8
    cmp esi, bad_pages_end
    jb .bad_page
    mov ecx, 0x40000000
    mov eax, PAGE
    xor edx, edx
    TRY_OK 9, wrmsr
    mov esi, PAGE + 32 * 17
    mov edi, xen_version_stub
    mov ecx, 9
    repe cmpsb
    FAIL_IF ne, 10
    cmp word [PAGE + 32 * 23], 0x0b0f     ; UD2
    FAIL_IF ne, 11
    ; And it works: xen_version through the page (4.19).
    xor ebx, ebx
    call PAGE + 32 * 17
    EXPECT_EAX 0x00040013, 12
    XENO_EXIT 0
    align 4
bad_pages:
    dd 0x2000000, 0                       ; past RAM
    dd 0xfee00000, 0                      ; MMIO
    dd 0x21000, 1                         ; above 4 GiB
    dd 0x21001, 0                         ; page index 1
bad_pages_end:
xen_version_stub: db 0xb8, 17, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3
    ADV_ROUTINES
