; xa_grant_rings.asm: grant_table_op (version 1, the table's frames), the
; console ring at 0xfe000 and XenStore through its ring at 0xff000, each
; with its event channel (docs/xen-abi.md "Console and store").
    bits 64

; ---- grant_table_op (20): (cmd, arg, count) ----
%macro GNTTAB 1                         ; cmd, on `arg`, count 1 -> RAX
    HCALL HYPERVISOR_grant_table_op, %1, arg, 1
%endmacro

; RDI = domain, ESI = nr_frames -> RAX = rc, the status in EAX's place at
; [arg + GST_STATUS]; the frames in frame_list (filled with 0x1111 first)
setup_table:
    mov qword [frame_list], 0x1111
    mov qword [frame_list + 8], 0x1111
    call zero_arg
    mov [arg + GST_DOM], di
    mov [arg + GST_NR_FRAMES], esi
    mov word [arg + GST_STATUS], 0x7777
    mov qword [arg + GST_FRAME_LIST], frame_list
    GNTTAB GNTTABOP_setup_table
    ret

; ZF=1 when the last grant_table_op returned 0 (RAX) and the s16 status at
; [arg + %1] is %2 (EAX: the status, or the rc when it was not 0).
%macro GNT_STATUS_IS 2
    test rax, rax
    jnz %%done
    movsx eax, word [arg + %1]
    cmp eax, %2
%%done:
%endmacro

test_grant_table:
    call zero_arg
    mov word [arg + GQS_DOM], DOMID_SELF
    mov word [arg + GQS_STATUS], 0x7777
    GNTTAB GNTTABOP_query_size
    GNT_STATUS_IS GQS_STATUS, 0
    jne .qs
    mov eax, [arg + GQS_NR_FRAMES]
    cmp eax, 1
    jne .qs
    mov eax, [arg + GQS_MAX_NR_FRAMES]
    cmp eax, GNT_MAX_FRAMES
.qs:
    CHECK64 "gnttab-query-size-1-frame-of-32"
    call zero_arg
    mov word [arg + GQS_DOM], OTHER_DOMID
    GNTTAB GNTTABOP_query_size
    GNT_STATUS_IS GQS_STATUS, GNTST_bad_domain
    CHECK64 "gnttab-query-size-domid-5-bad-domain"
    call zero_arg
    mov word [arg + GGV_DOM], DOMID_SELF
    GNTTAB GNTTABOP_get_version
    test rax, rax
    jnz .gv
    mov eax, [arg + GGV_VERSION]
    cmp eax, 1
.gv:
    CHECK64 "gnttab-get-version-1"
    call zero_arg
    mov dword [arg], 1
    GNTTAB GNTTABOP_set_version
    CHECK_RAX 0, "gnttab-set-version-1"
    mov dword [arg], 2
    GNTTAB GNTTABOP_set_version
    CHECK_RAX -XEN_EINVAL, "gnttab-set-version-2-einval"

    ; setup_table names each frame's gpfn, ~0 where none is placed.
    mov edi, DOMID_SELF
    mov esi, 1
    call setup_table
    GNT_STATUS_IS GST_STATUS, 0
    jne .st0
    mov rax, [frame_list]
    cmp rax, -1
.st0:
    CHECK64 "gnttab-setup-table-frame-0-not-placed-invalid"
    mov rdi, grant_page
    mov ecx, 4096
    mov al, 0x77
    call fill64
    ADD_TO_PHYSMAP XENMAPSPACE_grant_table, 0, PFN(grant_page)
    CHECK_RAX 0, "memory-add-to-physmap-grant-frame-0"
    mov rsi, grant_page
    mov ecx, 4096
    mov al, 0
    call all_bytes64
    CHECK64 "grant-frame-0-page-cleared"
    ADD_TO_PHYSMAP XENMAPSPACE_grant_table, GNT_MAX_FRAMES, PFN(alias_page)
    CHECK_RAX -XEN_EINVAL, "memory-add-to-physmap-grant-frame-32-einval"
    mov edi, DOMID_SELF
    mov esi, 1
    call setup_table
    GNT_STATUS_IS GST_STATUS, 0
    jne .st1
    mov rax, [frame_list]
    cmp rax, PFN(grant_page)
.st1:
    CHECK64 "gnttab-setup-table-frame-0-placed"
    mov edi, DOMID_SELF
    mov esi, 2
    call setup_table
    GNT_STATUS_IS GST_STATUS, 0
    jne .st2
    mov rax, [frame_list]
    cmp rax, PFN(grant_page)
    jne .st2
    mov rax, [frame_list + 8]
    cmp rax, -1
.st2:
    CHECK64 "gnttab-setup-table-grows-to-2-frames"
    call zero_arg
    mov word [arg + GQS_DOM], DOMID_SELF
    GNTTAB GNTTABOP_query_size
    GNT_STATUS_IS GQS_STATUS, 0
    jne .qs2
    mov eax, [arg + GQS_NR_FRAMES]
    cmp eax, 2
.qs2:
    CHECK64 "gnttab-query-size-2-frames"
    ; A grant frame in unpopulated address space (as Linux places them):
    ; a page of Xen's appears there, in the table's frame list, and nowhere
    ; else; not in the APIC window, not twice.
    ADD_TO_PHYSMAP XENMAPSPACE_grant_table, 1, GRANT_OUTSIDE >> 12
    CHECK_RAX 0, "memory-add-to-physmap-grant-frame-1-outside-ram"
    mov rsi, GRANT_OUTSIDE
    mov ecx, 4096
    mov al, 0
    call all_bytes64
    CHECK64 "grant-frame-outside-ram-reads-zero"
    mov rax, 0x1122334455667788
    mov [GRANT_OUTSIDE + 8], rax
    mov rbx, [GRANT_OUTSIDE + 8]
    cmp rbx, rax
    CHECK64 "grant-frame-outside-ram-holds-a-write"
    mov rax, [GRANT_OUTSIDE + 4096]     ; the page after it is still the empty bus
    cmp rax, -1
    CHECK64 "grant-frame-outside-ram-next-page-still-empty"
    mov edi, DOMID_SELF
    mov esi, 2
    call setup_table
    GNT_STATUS_IS GST_STATUS, 0
    jne .st3
    mov rax, [frame_list + 8]
    cmp rax, GRANT_OUTSIDE >> 12
.st3:
    CHECK64 "gnttab-setup-table-frame-1-outside-ram"
    ADD_TO_PHYSMAP XENMAPSPACE_grant_table, 1, GRANT_OUTSIDE >> 12
    CHECK_RAX 0, "memory-add-to-physmap-grant-frame-1-again-same-place"
    ADD_TO_PHYSMAP XENMAPSPACE_grant_table, 2, GRANT_OUTSIDE >> 12
    CHECK_RAX -XEN_EINVAL, "memory-add-to-physmap-grant-frame-2-onto-frame-1-einval"
    ADD_TO_PHYSMAP XENMAPSPACE_grant_table, 2, MMIO_IOAPIC >> 12
    CHECK_RAX -XEN_EINVAL, "memory-add-to-physmap-grant-frame-apic-window-einval"
    mov edi, DOMID_SELF
    mov esi, GNT_MAX_FRAMES + 1
    call setup_table
    GNT_STATUS_IS GST_STATUS, GNTST_general_error
    CHECK64 "gnttab-setup-table-33-frames-general-error"
    mov edi, OTHER_DOMID
    mov esi, 1
    call setup_table
    GNT_STATUS_IS GST_STATUS, GNTST_bad_domain
    CHECK64 "gnttab-setup-table-domid-5-bad-domain"
    call zero_arg
    GNTTAB GNTTABOP_map_grant_ref
    CHECK_RAX -XEN_ENOSYS, "gnttab-map-grant-ref-enosys"
    HCALL HYPERVISOR_grant_table_op, GNTTABOP_query_size, UNMAPPED, 1
    CHECK_RAX -XEN_EFAULT, "gnttab-query-size-unmapped-efault"
    ret

; ---- The console ring (xencons_interface) ----
; The bytes go into out[] at out_prod (modulo 2048), then out_prod is
; advanced (x86 keeps stores in order: Xen's wmb() is a compiler barrier
; there; SFENCE says it here), then a send on the console port. Xeno
; prints them and advances out_cons.
test_console_ring:
    mov ebx, [CONS_PAGE + CONS_OUT_PROD]
    mov rsi, msg_ring
    mov ecx, msg_ring_len
.copy:
    mov al, [rsi]
    mov edx, ebx
    and edx, CONS_OUT_SIZE - 1
    mov [CONS_PAGE + CONS_OUT + rdx], al
    inc rsi
    inc ebx
    dec ecx
    jnz .copy
    sfence
    mov [CONS_PAGE + CONS_OUT_PROD], ebx
    EVTCHN_PORT_OP EVTCHNOP_send, [console_port]
    CHECK_RAX 0, "console-ring-send-on-console-port"
    mov r12d, 100
.wait:
    mov eax, [CONS_PAGE + CONS_OUT_CONS]
    cmp eax, [CONS_PAGE + CONS_OUT_PROD]
    je .consumed
    HCALL HYPERVISOR_sched_op, SCHEDOP_yield, 0
    dec r12d
    jnz .wait
    mov eax, [CONS_PAGE + CONS_OUT_CONS]
    test rsp, rsp
.consumed:
    CHECK64 "console-ring-consumed"
    ret

; ---- XenStore (xs_wire.h) ----
; EDI = type, RSI = payload, EDX = its length -> EAX = the reply's type
; (-1: no complete reply, or another req_id), xs_reply (payload, then a
; NUL), xs_reply_len. The request (struct xsd_sockmsg header, payload)
; goes into req[] at req_prod, then req_prod, then a send on the store
; port; the reply is read from rsp[] at rsp_cons, waiting with SCHEDOP_poll
; on the store port while it is not all there; then rsp_cons and a send.
xs_request:
    push rbx
    push r12
    push r13
    push r14
    mov r13, rsi
    mov r14d, edx
    mov [xs_hdr], edi                   ; type
    inc dword [xs_req_id]
    mov eax, [xs_req_id]
    mov [xs_hdr + 4], eax               ; req_id
    mov dword [xs_hdr + 8], 0           ; tx_id: no transaction
    mov [xs_hdr + 12], edx              ; len
    mov ebx, [XS_PAGE + XS_REQ_PROD]
    mov rsi, xs_hdr
    mov ecx, 16
    call xs_put
    mov rsi, r13
    mov ecx, r14d
    call xs_put
    sfence
    mov [XS_PAGE + XS_REQ_PROD], ebx
    mov eax, [store_port]
    lock btr [shinfo_page + SI_EVTCHN_PENDING], rax
    EVTCHN_PORT_OP EVTCHNOP_send, [store_port]
    mov r12d, 20
.wait:
    mov ebx, [XS_PAGE + XS_RSP_CONS]
    mov eax, [XS_PAGE + XS_RSP_PROD]
    sub eax, ebx                        ; bytes there
    cmp eax, 16
    jb .more
    mov rdi, xs_rhdr
    mov ecx, 16
    call xs_get
    mov ecx, [xs_rhdr + 12]
    cmp ecx, 4000
    ja .bad
    lea edx, [rcx + 16]
    cmp eax, edx
    jb .more
    mov [xs_reply_len], ecx
    mov rdi, xs_reply
    call xs_get
    mov byte [rdi], 0
    mov [XS_PAGE + XS_RSP_CONS], ebx
    EVTCHN_PORT_OP EVTCHNOP_send, [store_port]
    mov eax, [xs_rhdr + 4]
    cmp eax, [xs_req_id]
    jne .bad
    mov eax, [xs_rhdr]
    jmp .out
.more:
    dec r12d
    jz .bad
    mov eax, [store_port]
    mov [poll_ports], eax
    call now0
    lea rdx, [rax + 10 * MS]
    mov rdi, poll_ports
    mov esi, 1
    call sched_poll
    mov eax, [store_port]
    lock btr [shinfo_page + SI_EVTCHN_PENDING], rax
    jmp .wait
.bad:
    mov eax, -1
.out:
    pop r14
    pop r13
    pop r12
    pop rbx
    ret

; RSI = bytes, ECX = count: into req[] from index EBX (advanced)
xs_put:
    test ecx, ecx
    jz .done
.next:
    mov al, [rsi]
    mov edx, ebx
    and edx, XS_RING_SIZE - 1
    mov [XS_PAGE + XS_REQ + rdx], al
    inc rsi
    inc ebx
    dec ecx
    jnz .next
.done:
    ret

; RDI = destination, ECX = count: from rsp[] at index EBX (EBX, RDI advanced)
xs_get:
    test ecx, ecx
    jz .done
    push rax
.next:
    mov edx, ebx
    and edx, XS_RING_SIZE - 1
    mov al, [XS_PAGE + XS_RSP + rdx]
    mov [rdi], al
    inc rdi
    inc ebx
    dec ecx
    jnz .next
    pop rax
.done:
    ret

; ZF=1 when the ECX bytes at RSI and RDI are equal (EAX: first difference).
memeq64:
    xor eax, eax
.next:
    cmp eax, ecx
    je .equal
    mov dl, [rsi + rax]
    cmp dl, [rdi + rax]
    jne .differ
    inc eax
    jmp .next
.equal:
    cmp eax, eax
    ret
.differ:
    test rsp, rsp
    ret

; XS_CHECK type, payload, reply_type, reply, "name": a request of that
; type with the payload (a label; <label>_len its length); the check passes
; when the reply has reply_type and is the bytes at label reply.
%macro XS_CHECK 5
    mov edi, %1
    mov rsi, %2
    mov edx, %2 %+ _len
    call xs_request
    cmp eax, %3
    jne %%done
    mov eax, [xs_reply_len]
    cmp eax, %4 %+ _len
    jne %%done
    mov rsi, xs_reply
    mov rdi, %4
    mov ecx, %4 %+ _len
    call memeq64
%%done:
    CHECK64 %5
%endmacro

test_xenstore:
    XS_CHECK XS_READ, xs_domid, XS_READ, xs_one, "xenstore-read-domid-1"
    XS_CHECK XS_WRITE, xs_write_key, XS_WRITE, xs_ok, "xenstore-write-data-key"
    XS_CHECK XS_READ, xs_key, XS_READ, xs_value, "xenstore-read-back-what-was-written"
    XS_CHECK XS_RM, xs_key, XS_RM, xs_ok, "xenstore-rm-data-key"
    XS_CHECK XS_READ, xs_key, XS_ERROR, xs_enoent, "xenstore-read-removed-key-error-enoent"
    XS_CHECK XS_DIRECTORY, xs_cpu, XS_DIRECTORY, xs_cpus, "xenstore-directory-cpu-0-1"
    XS_CHECK XS_READ, xs_avail, XS_READ, xs_online, "xenstore-read-cpu-1-availability-online"
    XS_CHECK XS_READ, xs_missing, XS_ERROR, xs_enoent, "xenstore-read-missing-key-error-enoent"
    XS_CHECK XS_GET_DOMAIN_PATH, xs_domid_arg, XS_GET_DOMAIN_PATH, xs_path, "xenstore-get-domain-path"
    XS_CHECK XS_READ, xs_abs_domid, XS_READ, xs_one, "xenstore-read-absolute-path-domid-1"
    ret

; Requests: paths relative to /local/domain/1 unless absolute; values
; written without a NUL (xs_wire.h). Replies: XS_READ's value without a
; NUL; "OK\0"; the children's names each with a NUL; the error's name.
xs_domid:       db "domid", 0
xs_domid_len    equ $ - xs_domid
xs_abs_domid:   db "/local/domain/1/domid", 0
xs_abs_domid_len equ $ - xs_abs_domid
xs_write_key:   db "data/xen-abi", 0, "works"
xs_write_key_len equ $ - xs_write_key
xs_key:         db "data/xen-abi", 0
xs_key_len      equ $ - xs_key
xs_value:       db "works"
xs_value_len    equ $ - xs_value
xs_cpu:         db "cpu", 0
xs_cpu_len      equ $ - xs_cpu
xs_cpus:        db "0", 0, "1", 0
xs_cpus_len     equ $ - xs_cpus
xs_avail:       db "cpu/1/availability", 0
xs_avail_len    equ $ - xs_avail
xs_online:      db "online"
xs_online_len   equ $ - xs_online
xs_missing:     db "missing-key", 0
xs_missing_len  equ $ - xs_missing
xs_enoent:      db "ENOENT", 0
xs_enoent_len   equ $ - xs_enoent
xs_domid_arg:   db "1", 0
xs_domid_arg_len equ $ - xs_domid_arg
xs_path:        db "/local/domain/1", 0
xs_path_len     equ $ - xs_path
xs_one:         db "1"
xs_one_len      equ $ - xs_one
xs_ok:          db "OK", 0
xs_ok_len       equ $ - xs_ok

msg_ring:       db "xen-abi: written to the console ring", 10
msg_ring_len    equ $ - msg_ring
