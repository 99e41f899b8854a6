; grant_abuse: grant_table_op and memory_op misuse from 64-bit mode, each
; answer as docs/xen-abi.md says: query_size and setup_table with count 2
; (-EINVAL); query_size of domain 5 (status GNTST_bad_domain, -2);
; setup_table of 33 frames (status GNTST_general_error, -1) and with its
; frame list in MMIO or across the end of RAM (-EFAULT, nothing changed:
; query_size still says 1 frame); set_version 2 and 0 (-EINVAL);
; map_grant_ref and an unknown command (-ENOSYS); add_to_physmap of grant
; frame 31 past RAM (0: a hypervisor page goes there), again (0), frame 30
; onto it, frames into the APIC window or past the physical address width,
; frame 32, shared_info past RAM (-EINVAL each), space 99 (-ENOSYS), domain
; 5 (-ESRCH); then grant frame 31 reads as the zeroed page it is and takes
; writes; memory_map into MMIO (-EFAULT); the balloon's operations with
; their frame list in MMIO (-EFAULT), a frame past RAM (0 extents), an
; extent of order 10 (0), domain 5 (-ESRCH). Status 0.
%include "adv.inc"
%include "adv_xen.inc"
GNT_SETUP  equ 2
GNT_QUERY  equ 6
GNT_SETVER equ 8
XENMEM_ADD_TO_PHYSMAP equ 7
XENMEM_MEMORY_MAP     equ 9
ARG equ 0x20000

; HC64 n, rdi, rsi, rdx: the x86_64 convention.
%macro HC64 4
    mov rdi, %2
    mov rsi, %3
    mov rdx, %4
    mov eax, %1
    vmcall
%endmacro
%macro EXPECT_RAX 2
    cmp rax, %1
    FAIL_IF ne, %2
%endmacro
    ADV_LONG main
main:
    mov rbx, ARG
    ; query_size
    mov dword [rbx], DOMID_SELF
    HC64 HC_GRANT_TABLE, GNT_QUERY, rbx, 2
    EXPECT_RAX -EINVAL, 2
    mov dword [rbx], 5
    HC64 HC_GRANT_TABLE, GNT_QUERY, rbx, 1
    EXPECT_RAX 0, 3
    cmp word [rbx + 12], -2
    FAIL_IF ne, 3
    ; setup_table
    mov dword [rbx], DOMID_SELF
    mov dword [rbx + 4], 33
    mov qword [rbx + 16], ARG + 0x100
    HC64 HC_GRANT_TABLE, GNT_SETUP, rbx, 1
    EXPECT_RAX 0, 4
    cmp word [rbx + 8], -1
    FAIL_IF ne, 4
    HC64 HC_GRANT_TABLE, GNT_SETUP, rbx, 2
    EXPECT_RAX -EINVAL, 5
    mov dword [rbx + 4], 4
    mov rax, 0xfee00000
    mov [rbx + 16], rax
    HC64 HC_GRANT_TABLE, GNT_SETUP, rbx, 1
    EXPECT_RAX -EFAULT, 6
    mov qword [rbx + 16], (16 << 20) - 16
    HC64 HC_GRANT_TABLE, GNT_SETUP, rbx, 1
    EXPECT_RAX -EFAULT, 7
    mov dword [rbx], DOMID_SELF
    HC64 HC_GRANT_TABLE, GNT_QUERY, rbx, 1
    EXPECT_RAX 0, 8
    cmp dword [rbx + 4], 1                ; still one frame
    FAIL_IF ne, 8
    ; versions, unknown operations
    mov dword [rbx], 2
    HC64 HC_GRANT_TABLE, GNT_SETVER, rbx, 1
    EXPECT_RAX -EINVAL, 9
    mov dword [rbx], 0
    HC64 HC_GRANT_TABLE, GNT_SETVER, rbx, 1
    EXPECT_RAX -EINVAL, 9
    HC64 HC_GRANT_TABLE, 0, rbx, 1
    EXPECT_RAX -ENOSYS, 10
    HC64 HC_GRANT_TABLE, 99, rbx, 1
    EXPECT_RAX -ENOSYS, 10
    ; add_to_physmap
    mov rsi, bad_maps
.map:
    mov eax, [rsi]
    mov [rbx], eax                        ; domid, size
    mov eax, [rsi + 4]
    mov [rbx + 4], eax                    ; space
    mov eax, [rsi + 8]
    mov [rbx + 8], rax                    ; idx
    mov eax, [rsi + 12]
    mov [rbx + 16], rax                   ; gpfn
    push rsi
    HC64 HC_MEMORY_OP, XENMEM_ADD_TO_PHYSMAP, rbx, 0
    pop rsi
    movsxd rcx, dword [rsi + 16]
    cmp rax, rcx
    FAIL_IF ne, 11
    add rsi, 20
    cmp rsi, bad_maps_end
    jb .map
    ; Grant frame 31 at 32 MiB: a zeroed page of the hypervisor's, writable.
    mov rsi, 0x2000000
    cmp qword [rsi + 0x800], 0
    FAIL_IF ne, 14
    mov qword [rsi + 0x800], rsi
    cmp [rsi + 0x800], rsi
    FAIL_IF ne, 15
    ; memory_map into MMIO
    mov dword [rbx], 8
    mov rax, 0xfee00000
    mov [rbx + 8], rax
    HC64 HC_MEMORY_OP, XENMEM_MEMORY_MAP, rbx, 0
    EXPECT_RAX -EFAULT, 12
    ; The balloon misused (xen_memory_reservation at RBX, a frame list
    ; after it): the list in MMIO (-EFAULT), a frame past RAM (0 extents
    ; done), an extent of order 10 (nothing), another domain (-ESRCH).
    lea rdi, [rbx + 64]
    mov rax, 0x100000                     ; guest frame at 4 GiB: past RAM
    mov [rdi], rax
    mov rax, 0xfee00000
    mov [rbx], rax                        ; extent_start
    mov qword [rbx + 8], 1                ; nr_extents
    mov qword [rbx + 16], 0               ; extent_order, mem_flags
    mov qword [rbx + 24], DOMID_SELF
    HC64 HC_MEMORY_OP, 1, rbx, 0          ; decrease_reservation
    EXPECT_RAX -EFAULT, 13
    lea rax, [rbx + 64]
    mov [rbx], rax
    HC64 HC_MEMORY_OP, 1, rbx, 0
    EXPECT_RAX 0, 16
    HC64 HC_MEMORY_OP, 6, rbx, 0          ; populate_physmap
    EXPECT_RAX 0, 16
    mov dword [rbx + 16], 10
    HC64 HC_MEMORY_OP, 0, rbx, 0          ; increase_reservation
    EXPECT_RAX 0, 17
    mov dword [rbx + 16], 0
    mov word [rbx + 24], 5
    HC64 HC_MEMORY_OP, 6, rbx, 0
    EXPECT_RAX -ESRCH, 18
    XENO_EXIT 0
    align 4
; domid | size << 16, space, idx, gpfn, the answer
bad_maps:
    dd DOMID_SELF, 1, 31, 0x2000, 0           ; grant frame 31 past RAM: a page of the hypervisor's
    dd DOMID_SELF, 1, 31, 0x2000, 0           ; again at the same place: nothing
    dd DOMID_SELF, 1, 30, 0x2000, -EINVAL     ; frame 30 onto frame 31's page
    dd DOMID_SELF, 1, 29, 0xfee00, -EINVAL    ; into the APIC window
    dd DOMID_SELF, 1, 29, 0xfec00, -EINVAL
    dd DOMID_SELF, 1, 29, 0x10000000, -EINVAL ; past a 40-bit physical address width
    dd DOMID_SELF, 1, 32, 0x100, -EINVAL      ; grant frame 32: past the 32
    dd DOMID_SELF, 99, 0, 0x100, -ENOSYS      ; no such space
    dd 5, 0, 0, 0x100, -ESRCH                 ; another domain
    dd DOMID_SELF, 0, 0, 0x2001, -EINVAL      ; shared_info past RAM
bad_maps_end:
    ADV_ROUTINES
