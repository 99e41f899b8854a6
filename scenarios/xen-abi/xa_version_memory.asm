; xa_version_memory.asm: xen_version, console_io, hvm_op and memory_op from
; 64-bit mode, with valid and invalid arguments (docs/xen-abi.md).
    bits 64

; ---- xen_version (17) ----
test_xen_version:
    HCALL HYPERVISOR_xen_version, XENVER_version, 0
    CHECK_RAX XEN_VERSION_4_19, "xen-version-4.19"

    mov rdi, buf
    mov ecx, 64
    mov al, 0xff
    call fill64
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, buf
    test rax, rax
    jnz .extra
    STREQ64 buf, ".0-xeno"
.extra:
    CHECK64 "xen-version-extraversion"

    mov rdi, buf
    mov ecx, CI_SIZE
    mov al, 0xff
    call fill64
    HCALL HYPERVISOR_xen_version, XENVER_compile_info, buf
    test rax, rax
    jnz .ci
    STREQ64 buf + CI_COMPILER, "xeno"
    jne .ci
    STREQ64 buf + CI_COMPILE_BY, "xeno"
    jne .ci
    STREQ64 buf + CI_COMPILE_DOMAIN, "xeno"
    jne .ci
    STREQ64 buf + CI_COMPILE_DATE, "2026-12-07"
.ci:
    CHECK64 "xen-version-compile-info"

    mov rdi, buf
    mov ecx, 1024
    mov al, 0xff
    call fill64
    HCALL HYPERVISOR_xen_version, XENVER_capabilities, buf
    test rax, rax
    jnz .caps
    STREQ64 buf, "hvm-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p"
.caps:
    CHECK64 "xen-version-capabilities"

    HCALL HYPERVISOR_xen_version, XENVER_changeset, buf
    test rax, rax
    jnz .changeset
    STREQ64 buf, "xeno"
.changeset:
    CHECK64 "xen-version-changeset"

    mov qword [buf], 0
    HCALL HYPERVISOR_xen_version, XENVER_platform_parameters, buf
    test rax, rax
    jnz .platform
    mov rax, [buf]
    mov r11, 0xffff800000000000
    cmp rax, r11
.platform:
    CHECK64 "xen-version-platform-parameters-virt-start"

    ; get_features: struct { u32 submap_idx; u32 submap }
    mov dword [buf], 0
    mov dword [buf + 4], 0xffffffff
    HCALL HYPERVISOR_xen_version, XENVER_get_features, buf
    test rax, rax
    jnz .feat0
    mov eax, [buf + 4]
    cmp eax, XEN_FEATURES_SUBMAP0
.feat0:
    CHECK64 "xen-version-get-features-submap-0"
    mov dword [buf], 1
    mov dword [buf + 4], 0xffffffff
    HCALL HYPERVISOR_xen_version, XENVER_get_features, buf
    test rax, rax
    jnz .feat1
    mov eax, [buf + 4]
    test eax, eax
.feat1:
    CHECK64 "xen-version-get-features-submap-1-zero"

    HCALL HYPERVISOR_xen_version, XENVER_pagesize, 0
    CHECK_RAX 4096, "xen-version-pagesize-4096"

    mov rdi, buf
    mov ecx, 32
    mov al, 0xff
    call fill64
    HCALL HYPERVISOR_xen_version, XENVER_guest_handle, buf
    test rax, rax
    jnz .handle
    mov rsi, buf
    mov ecx, 16
    mov al, 0
    call all_bytes64
    jne .handle
    mov rsi, buf + 16                   ; and no more than 16 bytes
    mov ecx, 16
    mov al, 0xff
    call all_bytes64
.handle:
    CHECK64 "xen-version-guest-handle-16-zero-bytes"

    HCALL HYPERVISOR_xen_version, XENVER_commandline, buf
    CHECK_RAX -XEN_EPERM, "xen-version-commandline-eperm"
    HCALL HYPERVISOR_xen_version, XENVER_build_id, buf
    CHECK_RAX -XEN_EPERM, "xen-version-build-id-eperm"
    HCALL HYPERVISOR_xen_version, XENVER_unknown, buf
    CHECK_RAX -XEN_ENOSYS, "xen-version-unknown-subop-enosys"

    ; Guest pointers are linear addresses: ALIAS + 0x100 is alias_page + 0x100.
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, ALIAS + 0x100
    test rax, rax
    jnz .alias
    STREQ64 alias_page + 0x100, ".0-xeno"
.alias:
    CHECK64 "guest-pointer-through-the-page-tables"
    ; A structure that ends exactly at the end of the mapped page fits ...
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, ALIAS + 0x1000 - 16
    test rax, rax
    jnz .fits
    STREQ64 alias_page + 0x1000 - 16, ".0-xeno"
.fits:
    CHECK64 "guest-pointer-structure-ending-at-page-end"
    HCALL HYPERVISOR_xen_version, XENVER_capabilities, ALIAS + 0x1000 - 1024
    CHECK_RAX 0, "guest-pointer-1024-byte-structure-ending-at-page-end"
    ; ... one that crosses into the unmapped page does not: -EFAULT, and
    ; none of its bytes in the mapped page written.
    mov rdi, alias_page + 0xfe0
    mov ecx, 32
    mov al, 0x5a
    call fill64
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, ALIAS + 0x1000 - 8
    CHECK_RAX -XEN_EFAULT, "guest-pointer-crossing-into-unmapped-page-efault"
    mov rsi, alias_page + 0xfe0
    mov ecx, 32
    mov al, 0x5a
    call all_bytes64
    CHECK64 "guest-pointer-crossing-nothing-written"
    mov rdi, alias_page + 0xc00
    mov ecx, 1024
    mov al, 0x5a
    call fill64
    HCALL HYPERVISOR_xen_version, XENVER_capabilities, ALIAS + 0x1000 - 1023
    CHECK_RAX -XEN_EFAULT, "guest-pointer-1024-byte-structure-crossing-efault"
    mov rsi, alias_page + 0xc00
    mov ecx, 1024
    mov al, 0x5a
    call all_bytes64
    CHECK64 "guest-pointer-1024-byte-crossing-nothing-written"
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "guest-pointer-unmapped-efault"
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, MMIO_IOAPIC
    CHECK_RAX -XEN_EFAULT, "guest-pointer-mmio-ioapic-efault"
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, PAST_RAM
    CHECK_RAX -XEN_EFAULT, "guest-pointer-past-ram-efault"
    mov rax, 0x8000000000000000         ; non-canonical
    HCALL HYPERVISOR_xen_version, XENVER_extraversion, rax
    CHECK_RAX -XEN_EFAULT, "guest-pointer-non-canonical-efault"
    ret

; ---- Hypercall numbers: all of RAX in 64-bit mode ----
test_hypercall_numbers:
    mov rax, (1 << 32) + HYPERVISOR_xen_version   ; not 17: RAX is the number
    xor edi, edi
    vmcall
    CHECK_RAX -XEN_ENOSYS, "vmcall-number-2^32-plus-17-enosys"
    mov eax, 0xffffffff
    xor edi, edi
    vmcall
    CHECK_RAX -XEN_ENOSYS, "vmcall-number-0xffffffff-enosys"
    HCALL 127, 0, 0
    CHECK_RAX -XEN_ENOSYS, "hypercall-page-stub-127-enosys"
    ret

; ---- console_io (18) ----
test_console_io:
    HCALL HYPERVISOR_console_io, CONSOLEIO_write, msg_cio64_len, msg_cio64
    CHECK_RAX 0, "console-io-write"
    HCALL HYPERVISOR_console_io, CONSOLEIO_write, 0, msg_cio64
    CHECK_RAX 0, "console-io-write-0-bytes"
    HCALL HYPERVISOR_console_io, CONSOLEIO_read, 16, buf
    CHECK_RAX 0, "console-io-read-no-input-0"
    HCALL HYPERVISOR_console_io, CONSOLEIO_write, (16 << 20) + 1, msg_cio64
    CHECK_RAX -XEN_EINVAL, "console-io-write-over-16-mib-einval"
    HCALL HYPERVISOR_console_io, CONSOLEIO_write, 8, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "console-io-write-unmapped-efault"
    HCALL HYPERVISOR_console_io, CONSOLEIO_unknown, 8, buf
    CHECK_RAX -XEN_ENOSYS, "console-io-unknown-command-enosys"
    ret

; ---- hvm_op (34) ----
test_hvm_params:
    GET_PARAM HVM_PARAM_CONSOLE_PFN
    test rax, rax
    jnz .cpfn
    mov rax, [arg + HP_VALUE]
    cmp rax, CONS_PAGE >> 12
.cpfn:
    CHECK64 "hvm-get-param-console-pfn-0xfe"
    GET_PARAM HVM_PARAM_CONSOLE_EVTCHN
    test rax, rax
    jnz .cev
    mov rax, [arg + HP_VALUE]
    mov [console_port], eax
    cmp rax, 1
.cev:
    CHECK64 "hvm-get-param-console-evtchn-1"
    GET_PARAM HVM_PARAM_STORE_PFN
    test rax, rax
    jnz .spfn
    mov rax, [arg + HP_VALUE]
    cmp rax, XS_PAGE >> 12
.spfn:
    CHECK64 "hvm-get-param-store-pfn-0xff"
    GET_PARAM HVM_PARAM_STORE_EVTCHN
    test rax, rax
    jnz .sev
    mov rax, [arg + HP_VALUE]
    mov [store_port], eax
    cmp rax, 2
.sev:
    CHECK64 "hvm-get-param-store-evtchn-2"

    ; The hypervisor's parameters are read-only.
    SET_PARAM HVM_PARAM_STORE_PFN, 0x1234
    CHECK_RAX -XEN_EPERM, "hvm-set-param-store-pfn-eperm"
    GET_PARAM HVM_PARAM_STORE_PFN
    mov rax, [arg + HP_VALUE]
    CHECK_RAX XS_PAGE >> 12, "hvm-store-pfn-unchanged"
    SET_PARAM HVM_PARAM_CONSOLE_EVTCHN, 7
    CHECK_RAX -XEN_EPERM, "hvm-set-param-console-evtchn-eperm"
    ; Others read what was written, 0 at first.
    GET_PARAM HVM_PARAM_CALLBACK_IRQ
    test rax, rax
    jnz .cb0
    mov rax, [arg + HP_VALUE]
    test rax, rax
.cb0:
    CHECK64 "hvm-get-param-callback-irq-0-at-first"
    GET_PARAM HVM_PARAM_TIMER_MODE
    test rax, rax
    jnz .tm0
    mov rax, [arg + HP_VALUE]
    test rax, rax
.tm0:
    CHECK64 "hvm-get-param-timer-mode-0-at-first"
    SET_PARAM HVM_PARAM_TIMER_MODE, 1
    CHECK_RAX 0, "hvm-set-param-timer-mode"
    GET_PARAM HVM_PARAM_TIMER_MODE
    test rax, rax
    jnz .tm1
    mov rax, [arg + HP_VALUE]
    cmp rax, 1
.tm1:
    CHECK64 "hvm-get-param-timer-mode-reads-what-was-written"

    GET_PARAM HVM_NR_PARAMS
    CHECK_RAX -XEN_EINVAL, "hvm-get-param-index-39-einval"
    SET_PARAM HVM_NR_PARAMS, 0
    CHECK_RAX -XEN_EINVAL, "hvm-set-param-index-39-einval"
    mov edi, HVMOP_get_param
    mov esi, HVM_PARAM_STORE_PFN
    xor edx, edx
    mov r8d, OTHER_DOMID
    call hvm_param_op
    CHECK_RAX -XEN_ESRCH, "hvm-get-param-domid-5-esrch"
    HCALL HYPERVISOR_hvm_op, HVMOP_get_param, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "hvm-get-param-unmapped-efault"

    ; The callback's own checks: a vector below 0x10, an unknown type.
    SET_PARAM HVM_PARAM_CALLBACK_IRQ, (HVM_PARAM_CALLBACK_TYPE_VECTOR << 56) | 5
    CHECK_RAX -XEN_EINVAL, "hvm-callback-irq-vector-5-einval"
    SET_PARAM HVM_PARAM_CALLBACK_IRQ, (HVM_PARAM_CALLBACK_TYPE_PCI_INTX << 56) | 1
    CHECK_RAX -XEN_EINVAL, "hvm-callback-irq-type-1-einval"

    ; set_evtchn_upcall_vector { u32 vcpu; u8 vector }
    call zero_arg
    mov dword [arg], 0
    mov byte [arg + 4], 5
    HCALL HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, arg
    CHECK_RAX -XEN_EINVAL, "hvm-set-evtchn-upcall-vector-5-einval"
    mov dword [arg], 7
    mov byte [arg + 4], VCPU1_VECTOR
    HCALL HYPERVISOR_hvm_op, HVMOP_set_evtchn_upcall_vector, arg
    CHECK_RAX -XEN_ENOENT, "hvm-set-evtchn-upcall-vector-vcpu-7-enoent"
    HCALL HYPERVISOR_hvm_op, HVMOP_unknown, arg
    CHECK_RAX -XEN_ENOSYS, "hvm-op-unknown-enosys"
    ret

; ---- memory_op (12) ----
; RDI = space, RSI = idx, RDX = gpfn, R8D = domain -> RAX (add_to_physmap)
add_to_physmap:
    call zero_arg
    mov [arg + ATP_DOMID], r8w
    mov [arg + ATP_SPACE], edi
    mov [arg + ATP_IDX], rsi
    mov [arg + ATP_GPFN], rdx
    HCALL HYPERVISOR_memory_op, XENMEM_add_to_physmap, arg
    ret

%macro ADD_TO_PHYSMAP 3                 ; space, idx, gpfn (DOMID_SELF)
    mov edi, %1
    mov rsi, %2
    mov rdx, %3
    mov r8d, DOMID_SELF
    call add_to_physmap
%endmacro

test_memory_op:
    ; shared_info at a page of the kernel's bss, filled with a pattern
    ; first: after the call the page is a fresh shared_info.
    mov rdi, shinfo_page
    mov ecx, 4096
    mov al, 0xa5
    call fill64
    ADD_TO_PHYSMAP XENMAPSPACE_shared_info, 0, PFN(shinfo_page)
    CHECK_RAX 0, "memory-add-to-physmap-shared-info"
    mov rsi, shinfo_page + SI_EVTCHN_PENDING
    mov ecx, 512
    mov al, 0
    call all_bytes64
    jne .fresh
    mov rsi, shinfo_page + SI_SIZE      ; past the structure: cleared
    mov ecx, 4096 - SI_SIZE
    mov al, 0
    call all_bytes64
    jne .fresh
    mov eax, [shinfo_page + SI_WC_VERSION]
    test eax, 1
.fresh:
    CHECK64 "shared-info-fresh-wc-version-even"
    mov eax, [shinfo_page + SI_WC_SEC]
    cmp eax, RTC_EPOCH
    jne .wc
    mov eax, [shinfo_page + SI_WC_SEC_HI]
    test eax, eax
    jnz .wc
    mov eax, [shinfo_page + SI_WC_NSEC]
    test eax, eax
.wc:
    CHECK64 "shared-info-wallclock-rtc-epoch"
    mov eax, [shinfo_page + T_VERSION + VI_TIME]
    test eax, 1
    jnz .t0
    mov eax, [shinfo_page + T_MUL + VI_TIME]
    test eax, eax
    jz .t0z
    cmp eax, eax
    jmp .t0
.t0z:
    test rsp, rsp
.t0:
    CHECK64 "shared-info-vcpu0-time-info"

    ADD_TO_PHYSMAP XENMAPSPACE_shared_info, 0, MMIO_IOAPIC >> 12
    CHECK_RAX -XEN_EINVAL, "memory-add-to-physmap-mmio-gpfn-einval"
    ADD_TO_PHYSMAP XENMAPSPACE_shared_info, 0, PAST_RAM >> 12
    CHECK_RAX -XEN_EINVAL, "memory-add-to-physmap-gpfn-past-ram-einval"
    ADD_TO_PHYSMAP XENMAPSPACE_shared_info, 1, PFN(grant_page)
    CHECK_RAX -XEN_EINVAL, "memory-add-to-physmap-shared-info-idx-1-einval"
    ADD_TO_PHYSMAP XENMAPSPACE_gmfn, 0, PFN(grant_page)
    CHECK_RAX -XEN_ENOSYS, "memory-add-to-physmap-gmfn-space-enosys"
    mov edi, XENMAPSPACE_shared_info
    xor esi, esi
    mov rdx, PFN(grant_page)
    mov r8d, OTHER_DOMID
    call add_to_physmap
    CHECK_RAX -XEN_ESRCH, "memory-add-to-physmap-domid-5-esrch"
    HCALL HYPERVISOR_memory_op, XENMEM_add_to_physmap, UNMAPPED
    CHECK_RAX -XEN_EFAULT, "memory-add-to-physmap-unmapped-efault"

    ; memory_map: the E820 hvm_start_info's memmap gave at entry.
    call zero_arg
    mov dword [arg + MM_NR_ENTRIES], 16
    mov qword [arg + MM_BUFFER], e820_buf
    HCALL HYPERVISOR_memory_op, XENMEM_memory_map, arg
    test rax, rax
    jnz .map
    call e820_equals_start_info
.map:
    CHECK64 "memory-map-equals-start-info-memmap"
    ; Fewer entries asked for than there are: that many (as Xen does).
    mov rdi, e820_buf
    mov ecx, 2 * E820_ENTRY_SIZE
    mov al, 0x5a
    call fill64
    call zero_arg
    mov dword [arg + MM_NR_ENTRIES], 1
    mov qword [arg + MM_BUFFER], e820_buf
    HCALL HYPERVISOR_memory_op, XENMEM_memory_map, arg
    test rax, rax
    jnz .map1
    mov eax, [arg + MM_NR_ENTRIES]
    cmp eax, 1
    jne .map1
    mov rsi, e820_buf + E820_ENTRY_SIZE
    mov ecx, E820_ENTRY_SIZE
    mov al, 0x5a
    call all_bytes64
    jne .map1
    mov ebx, [boot_ebx]
    mov esi, [rbx + 40]                 ; the first memmap entry
    mov rax, [rsi]
    cmp rax, [e820_buf]
    jne .map1
    mov rax, [rsi + 8]
    cmp rax, [e820_buf + 8]
.map1:
    CHECK64 "memory-map-one-entry-asked-one-written"
    call zero_arg
    mov dword [arg + MM_NR_ENTRIES], 16
    mov eax, UNMAPPED                   ; (a 32-bit immediate to a qword would sign-extend)
    mov [arg + MM_BUFFER], rax
    HCALL HYPERVISOR_memory_op, XENMEM_memory_map, arg
    CHECK_RAX -XEN_EFAULT, "memory-map-buffer-unmapped-efault"

    mov word [arg], DOMID_SELF
    HCALL HYPERVISOR_memory_op, XENMEM_current_reservation, arg
    CHECK_RAX RAM_PAGES, "memory-current-reservation-ram-pages"
    mov word [arg], DOMID_SELF
    HCALL HYPERVISOR_memory_op, XENMEM_maximum_reservation, arg
    CHECK_RAX RAM_PAGES, "memory-maximum-reservation-ram-pages"
    mov word [arg], DOMID_SELF
    HCALL HYPERVISOR_memory_op, XENMEM_maximum_gpfn, arg
    CHECK_RAX RAM_PAGES - 1, "memory-maximum-gpfn"
    HCALL HYPERVISOR_memory_op, XENMEM_unknown, arg
    CHECK_RAX -XEN_ENOSYS, "memory-op-unknown-enosys"
    ret

; ZF=1 when `arg`'s nr_entries and e820_buf (20-byte entries) equal
; hvm_start_info's memmap (24-byte entries: addr, size, type, reserved).
; RAX = nr_entries, or the index of the first entry that differs + 0x100.
e820_equals_start_info:
    mov ebx, [boot_ebx]
    mov eax, [arg + MM_NR_ENTRIES]
    cmp eax, [rbx + 48]                 ; memmap_entries
    jne .done
    mov ecx, eax
    mov esi, [rbx + 40]                 ; memmap_paddr (below 4 GiB: boot-pvh checks it)
    mov rdi, e820_buf
    xor edx, edx
.entry:
    cmp edx, ecx
    je .equal
    mov rax, [rsi]
    cmp rax, [rdi]
    jne .differ
    mov rax, [rsi + 8]
    cmp rax, [rdi + 8]
    jne .differ
    mov eax, [rsi + 16]
    cmp eax, [rdi + 16]
    jne .differ
    add rsi, 24
    add rdi, E820_ENTRY_SIZE
    inc edx
    jmp .entry
.equal:
    mov eax, ecx
    cmp eax, eax
    ret
.differ:
    lea eax, [rdx + 0x100]
    test rsp, rsp
.done:
    ret

msg_cio64:      db "xen-abi: console_io write from long mode", 10
msg_cio64_len   equ $ - msg_cio64
                db 0
