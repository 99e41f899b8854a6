; xa_balloon.asm: memory_op's reservation operations from long mode (the
; balloon): decrease_reservation takes pages of RAM away, populate_physmap
; gives fresh zeroed ones back, increase_reservation hands out extents with
; no guest frame; all within the maximum reservation (the RAM the domain was
; built with). Each returns how many extents it did.

; struct xen_memory_reservation (x86_64)
RES_EXTENT_START    equ 0
RES_NR_EXTENTS      equ 8
RES_EXTENT_ORDER    equ 16
RES_MEM_FLAGS       equ 20
RES_DOMID           equ 24
XENMEMF_populate_on_demand equ 1 << 16

; Pages of RAM nothing else uses (identity mapped by 2 MiB pages).
BALLOON_PAGE        equ 0x2400000
BALLOON_PAGE2       equ 0x2401000
BALLOON_2M          equ 0x2600000           ; a 2 MiB extent (order 9)
BALLOON_MANY        equ 0x2800000           ; BALLOON_COUNT pages from here
BALLOON_COUNT       equ 600                 ; more than one continuation step (512)

; RDI = operation, RSI = extent list, RDX = nr_extents, ECX = extent_order,
; R8D = mem_flags, R9W = domid -> RAX (the extents done, or -errno).
reservation:
    call zero_arg
    mov [arg + RES_EXTENT_START], rsi
    mov [arg + RES_NR_EXTENTS], rdx
    mov [arg + RES_EXTENT_ORDER], ecx
    mov [arg + RES_MEM_FLAGS], r8d
    mov [arg + RES_DOMID], r9w
    mov rsi, arg
    call hypercall_page + HYPERVISOR_memory_op * 32
    ret

; One extent of order ECX at RAX (a guest-physical address), DOMID_SELF.
%macro BALLOON 3                            ; operation, address, order
    mov qword [balloon_list], (%2) >> 12
    mov edi, %1
    mov rsi, balloon_list
    mov edx, 1
    mov ecx, %3
    xor r8d, r8d
    mov r9d, DOMID_SELF
    call reservation
%endmacro

; The operation on balloon_list's first `count` frames (order 0, DOMID_SELF).
%macro LIST_RESERVATION 2                   ; operation, count
    mov edi, %1
    mov rsi, balloon_list
    mov edx, %2
    xor ecx, ecx
    xor r8d, r8d
    mov r9d, DOMID_SELF
    call reservation
%endmacro

; RAX = the current reservation.
current_reservation:
    mov word [arg], DOMID_SELF
    HCALL HYPERVISOR_memory_op, XENMEM_current_reservation, arg
    ret

test_balloon:
    mov rdi, BALLOON_PAGE
    mov ecx, 4096
    mov al, 0x5a
    call fill64
    BALLOON XENMEM_decrease_reservation, BALLOON_PAGE, 0
    CHECK_RAX 1, "balloon-decrease-one-page"
    call current_reservation
    CHECK_RAX RAM_PAGES - 1, "balloon-current-reservation-one-less"
    mov rax, [BALLOON_PAGE]
    CHECK_RAX -1, "balloon-page-taken-reads-all-ones"
    mov qword [BALLOON_PAGE + 8], 0x1234
    mov rax, [BALLOON_PAGE + 8]
    CHECK_RAX -1, "balloon-page-taken-write-dropped"
    BALLOON XENMEM_decrease_reservation, BALLOON_PAGE, 0
    CHECK_RAX 0, "balloon-decrease-page-already-taken-0-extents"
    BALLOON XENMEM_populate_physmap, BALLOON_PAGE, 0
    CHECK_RAX 1, "balloon-populate-one-page"
    call current_reservation
    CHECK_RAX RAM_PAGES, "balloon-current-reservation-back"
    mov rsi, BALLOON_PAGE
    mov ecx, 4096
    mov al, 0
    call all_bytes64
    CHECK64 "balloon-populated-page-reads-zero"
    mov qword [BALLOON_PAGE + 8], 0x1234
    mov rax, [BALLOON_PAGE + 8]
    CHECK_RAX 0x1234, "balloon-populated-page-holds-a-write"
    BALLOON XENMEM_populate_physmap, BALLOON_PAGE, 0
    CHECK_RAX 0, "balloon-populate-page-with-ram-0-extents"
    BALLOON XENMEM_populate_physmap, PAST_RAM, 0
    CHECK_RAX 0, "balloon-populate-past-ram-0-extents"

    ; Nothing the hypervisor uses, nothing that is not RAM, no extent
    ; larger than 2 MiB.
    BALLOON XENMEM_decrease_reservation, (PFN(shinfo_page) << 12), 0
    CHECK_RAX 0, "balloon-decrease-shared-info-refused"
    BALLOON XENMEM_decrease_reservation, 0xfe000, 0
    CHECK_RAX 0, "balloon-decrease-console-ring-refused"
    BALLOON XENMEM_decrease_reservation, MMIO_IOAPIC, 0
    CHECK_RAX 0, "balloon-decrease-mmio-0-extents"
    BALLOON XENMEM_decrease_reservation, PAST_RAM, 0
    CHECK_RAX 0, "balloon-decrease-past-ram-0-extents"
    BALLOON XENMEM_decrease_reservation, BALLOON_2M, 10
    CHECK_RAX 0, "balloon-decrease-order-10-nothing"
    call current_reservation
    CHECK_RAX RAM_PAGES, "balloon-refusals-changed-nothing"

    ; At the maximum no more: increase and populate do nothing.
    BALLOON XENMEM_increase_reservation, 0, 0
    CHECK_RAX 0, "balloon-increase-at-maximum-0-extents"
    ; Two pages away, one extent without a guest frame in: one page of
    ; the two can come back.
    mov qword [balloon_list], BALLOON_PAGE >> 12
    mov qword [balloon_list + 8], BALLOON_PAGE2 >> 12
    LIST_RESERVATION XENMEM_decrease_reservation, 2
    CHECK_RAX 2, "balloon-decrease-two-extents"
    BALLOON XENMEM_increase_reservation, 0, 0
    CHECK_RAX 1, "balloon-increase-one-extent"
    call current_reservation
    CHECK_RAX RAM_PAGES - 1, "balloon-current-reservation-counts-the-increase"
    mov qword [balloon_list], BALLOON_PAGE >> 12
    LIST_RESERVATION XENMEM_populate_physmap, 2
    CHECK_RAX 1, "balloon-populate-stops-at-the-maximum"
    mov rax, [BALLOON_PAGE]
    CHECK_RAX 0, "balloon-page-within-the-maximum-back"
    mov rax, [BALLOON_PAGE2]
    CHECK_RAX -1, "balloon-page-past-the-maximum-still-empty"

    ; A 2 MiB extent away and back.
    mov rdi, BALLOON_2M + 0x1ff000
    mov ecx, 4096
    mov al, 0x77
    call fill64
    BALLOON XENMEM_decrease_reservation, BALLOON_2M, 9
    CHECK_RAX 1, "balloon-decrease-2-mib-extent"
    call current_reservation
    CHECK_RAX RAM_PAGES - 512, "balloon-current-reservation-512-less"
    mov rax, [BALLOON_2M + 0x1ff000]
    CHECK_RAX -1, "balloon-2-mib-extent-last-page-taken"
    BALLOON XENMEM_populate_physmap, BALLOON_2M, 9
    CHECK_RAX 1, "balloon-populate-2-mib-extent"
    mov rsi, BALLOON_2M + 0x1ff000
    mov ecx, 4096
    mov al, 0
    call all_bytes64
    CHECK64 "balloon-2-mib-extent-back-zeroed"

    ; Bad arguments.
    mov edi, XENMEM_decrease_reservation
    mov esi, UNMAPPED
    mov edx, 1
    xor ecx, ecx
    xor r8d, r8d
    mov r9d, DOMID_SELF
    call reservation
    CHECK_RAX -XEN_EFAULT, "balloon-decrease-list-unmapped-efault"
    HCALL HYPERVISOR_memory_op, XENMEM_populate_physmap, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "balloon-populate-argument-unmapped-efault"
    mov qword [balloon_list], BALLOON_PAGE2 >> 12
    mov edi, XENMEM_populate_physmap
    mov rsi, balloon_list
    mov edx, 1
    xor ecx, ecx
    xor r8d, r8d
    mov r9d, OTHER_DOMID
    call reservation
    CHECK_RAX -XEN_ESRCH, "balloon-populate-domid-5-esrch"
    mov edi, XENMEM_populate_physmap
    mov rsi, balloon_list
    mov edx, 1
    xor ecx, ecx
    mov r8d, XENMEMF_populate_on_demand
    mov r9d, DOMID_SELF
    call reservation
    CHECK_RAX 0, "balloon-populate-on-demand-0-extents"
    mov edi, XENMEM_decrease_reservation
    mov rsi, balloon_list
    mov rdx, 1 << 58                    ; too many to continue
    xor ecx, ecx
    xor r8d, r8d
    mov r9d, DOMID_SELF
    call reservation
    CHECK_RAX 0, "balloon-decrease-2^58-extents-nothing"
    call current_reservation
    CHECK_RAX RAM_PAGES, "balloon-bad-arguments-changed-nothing"

    ; More extents than one step: the hypercall continues (the command
    ; carries the next extent) and does them all.
    mov rdi, balloon_list
    mov rax, BALLOON_MANY >> 12
    mov ecx, BALLOON_COUNT
.list:
    mov [rdi], rax
    add rdi, 8
    inc rax
    loop .list
    LIST_RESERVATION XENMEM_decrease_reservation, BALLOON_COUNT
    CHECK_RAX BALLOON_COUNT, "balloon-decrease-600-extents-continued"
    call current_reservation
    CHECK_RAX RAM_PAGES - BALLOON_COUNT, "balloon-current-reservation-600-less"
    mov rax, [BALLOON_MANY + (BALLOON_COUNT - 1) * 4096]
    CHECK_RAX -1, "balloon-600th-page-taken"
    LIST_RESERVATION XENMEM_populate_physmap, BALLOON_COUNT
    CHECK_RAX BALLOON_COUNT, "balloon-populate-600-extents-continued"
    mov rax, [BALLOON_MANY + (BALLOON_COUNT - 1) * 4096]
    CHECK_RAX 0, "balloon-600th-page-back"
    ret
