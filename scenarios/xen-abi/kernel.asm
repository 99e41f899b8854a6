; xen-abi: the Xen hypercall interface (docs/xen-abi.md) from the guest's
; side, as a PVH kernel: an ELF64 with Xen's XEN_ELFNOTE_PHYS32_ENTRY note,
; entered in 32-bit protected mode with EBX = hvm_start_info (boot-pvh
; checks that entry; this kernel builds on it). Two vCPUs.
;
; 1. 32-bit protected mode, paging off (pm32 below): Xen's CPUID leaves
;    (found by the scan Linux's xen_cpuid_base does), the hypercall page
;    written through the MSR leaf 2 names (its stubs, ud2 in the iret slot,
;    INT3 filler) and the MSR's #GPs; hypercalls from 32-bit code (the EBX,
;    ECX, EDX, ESI, EDI convention), memory_op and grant_table_op refused
;    there (-ENOSYS), unknown hypercalls and sub-operations.
; 2. 64-bit long mode (xa_long.asm): every hypercall and sub-operation of
;    the contract with valid and invalid arguments: xen_version and
;    console_io, hvm_op and memory_op (xa_version_memory.asm); vcpu_op, the
;    pvclock, VMCALL from ring 3, event channels with the vector callback,
;    timers, sched_op (xa_vcpu_events.asm); grant_table_op, the console ring
;    and XenStore (xa_grant_rings.asm); the second vCPU started with
;    INIT-SIPI-SIPI, its vcpu_info and per-vCPU upcall vector, pvclock
;    readings of both vCPUs in one order, IPIs between them, and
;    EVTCHNOP_reset (xa_smp.asm).
; Guest pointers in long mode go through the guest's page tables: an alias
; at 0x40000000 (one 4 KiB page mapped, the next one not) and identity maps
; of RAM, of the hole past RAM and of the I/O APIC page give the -EFAULT
; cases: unmapped, not RAM, and a structure crossing into an unmapped page.
;
; Each check prints "ok <name>" or "FAIL <name> got=<value>" (xeno_check.inc
; in 32-bit code, CHECK64 in 64-bit code). With every check passed the run
; ends with SCHEDOP_shutdown(poweroff): scenario.toml expects end=poweroff,
; status 0. A failed check ends it through QEMU's isa-debug-exit with 1
; (status 3), an unexpected exception or interrupt with 3 or 2 (status 7 or
; 5), a shutdown hypercall that returns with 4 (status 9).
%define BOOT_KERNEL
%include "xeno_boot.inc"               ; xeno.inc, xeno_check.inc, xeno_elf.inc
%include "xeno_pc.inc"                 ; the local APIC's registers
%include "xen_abi.inc"
%include "xa_macros.inc"

MEMORY_MB           equ 64              ; scenario.toml: memory_mb
RAM_PAGES           equ MEMORY_MB * 256
CANARY32            equ 0x5aa5c33c      ; after a 32-bit structure: must survive the call
E820_RAM            equ 1

; Selectors of the kernel's own GDT (the entry's GDT is the builder's).
CODE32              equ 0x08
DATA                equ 0x10
CODE64              equ 0x18
USER_DATA           equ 0x20 | 3
USER_CODE64         equ 0x28 | 3
TSS_SEL             equ 0x30

; The long mode address space (xa_long.asm, build_page_tables): identity
; maps of the first GiB (RAM is the first 64 MiB; the rest is the "past RAM"
; case) and of the I/O APIC and local APIC 2 MiB pages; at ALIAS one 4 KiB
; page mapped onto alias_page and the page after it not mapped; nothing
; at UNMAPPED.
ALIAS               equ 0x40000000
ALIAS_READ_ONLY     equ ALIAS + 0x2000      ; alias_page again, without W (xa_long.asm)
RO_ARG              equ 0xf00               ; where in it an argument is put
CR0_WP              equ 1 << 16
UNMAPPED            equ 0x80000000
PAST_RAM            equ 0x10000000      ; identity mapped, not the guest's RAM
GRANT_OUTSIDE       equ 0x08000000      ; identity mapped, past RAM: a grant frame placed there
MMIO_IOAPIC         equ 0xfec00000      ; identity mapped, the I/O APIC
TRAMPOLINE          equ 0x90000         ; the AP's real-mode start (SIPI vector 0x90)
UPCALL_VECTOR       equ 0xf3            ; HVM_PARAM_CALLBACK_IRQ: type 2, this vector
VCPU1_VECTOR        equ 0xf4            ; vCPU 1's own upcall vector (set_evtchn_upcall_vector)
RING3_GATE          equ 0x80            ; ring 3 comes back through INT 0x80

; Exit codes through isa-debug-exit (scenario.toml debug_exit = "qemu").
EXIT_FAILED         equ 1
EXIT_UNEXPECTED_IRQ equ 2
EXIT_EXCEPTION      equ 3
EXIT_SHUTDOWN_RETURNED equ 4

    org BOOT_KERNEL_BASE
    bits 32
    BOOT_ELF64 wrong_entry, image_end, bss_end, xen_note, xen_note_end

    align 4
xen_note:                               ; Elf64_Nhdr: namesz, descsz, type; name, desc padded to 4
    dd 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
    db "Xen", 0
    dd pvh_start
xen_note_end:
XEN_ELFNOTE_PHYS32_ENTRY equ 18

; ---- The PVH entry: 32-bit protected mode, paging off, EBX = hvm_start_info ----
pvh_start:
    BOOT_ENTRY bsp_stack_top
    cld
    lgdt [gdt_desc]
    jmp CODE32:.reload
.reload:
    mov ax, DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    call idt32_setup
    mov esi, msg_banner
    call xeno_puts32
    call pm32_cpuid
    call pm32_hypercall_page
    call pm32_hypercalls
    jmp enter_long_mode

; ---- Xen's CPUID leaves ----
; Leaves 0x40000000, 0x40000100, ... up to 0x4000ff00: the first whose EBX,
; ECX, EDX spell "XenVMMXenVMM" is Xen's base (Xeno: 0x40000000).
pm32_cpuid:
    mov esi, XEN_CPUID_FIRST
.scan:
    mov eax, esi
    xor ecx, ecx
    cpuid
    cmp ebx, XEN_CPUID_SIG_EBX
    jne .next
    cmp ecx, XEN_CPUID_SIG_ECX
    jne .next
    cmp edx, XEN_CPUID_SIG_EDX
    je .found
.next:
    add esi, 0x100
    cmp esi, XEN_CPUID_FIRST + 0x10000
    jb .scan
    xor esi, esi
.found:
    mov [xen_base], esi
    mov eax, esi
    cmp eax, XEN_CPUID_FIRST
    CHECK32 "cpuid-xen-signature-at-0x40000000"
    test esi, esi
    jnz .leaves
    mov esi, msg_no_xen                 ; nothing else can work
    call xeno_puts32
    XENO_EXIT EXIT_FAILED
.leaves:
    mov eax, esi
    xor ecx, ecx
    cpuid
    lea ebx, [esi + 5]
    cmp eax, ebx
    CHECK32 "cpuid-xen-highest-leaf-base-plus-5"

    lea eax, [esi + 1]
    xor ecx, ecx
    cpuid
    or ebx, ecx
    or ebx, edx
    jnz .l1
    cmp eax, XEN_VERSION_4_19
.l1:
    CHECK32 "cpuid-xen-version-4.19"

    lea eax, [esi + 2]                  ; EAX pages, EBX the MSR
    xor ecx, ecx
    cpuid
    mov [hypercall_msr], ebx
    or ecx, edx
    jnz .l2
    cmp eax, 1
.l2:
    CHECK32 "cpuid-xen-leaf2-one-hypercall-page"
    mov eax, [hypercall_msr]
    cmp eax, XEN_HYPERCALL_MSR
    CHECK32 "cpuid-xen-leaf2-msr-0x40000000"

    lea eax, [esi + 3]                  ; subleaf 0: ECX = the guest's TSC kHz
    xor ecx, ecx
    cpuid
    mov [tsc_khz], ecx
    or eax, ebx
    or eax, edx
    jnz .l3
    mov eax, ecx
    cmp ecx, 0
    je .l3z
    cmp eax, eax
    jmp .l3
.l3z:
    cmp esp, 0                          ; ZF=0: no TSC frequency
.l3:
    CHECK32 "cpuid-xen-leaf3-tsc-khz"

    lea eax, [esi + 4]
    xor ecx, ecx
    cpuid
    mov [leaf4_ebx], ebx
    mov [leaf4_ecx], ecx
    test edx, edx
    jnz .l4
    cmp eax, XEN_HVM_CPUID_VCPU_ID_PRESENT | XEN_HVM_CPUID_DOMID_PRESENT
.l4:
    CHECK32 "cpuid-xen-leaf4-vcpu-id-and-domid-present"
    mov eax, [leaf4_ebx]
    cmp eax, 0
    CHECK32 "cpuid-xen-leaf4-vcpu-id-0"
    mov eax, [leaf4_ecx]
    cmp eax, XEN_DOMID
    CHECK32 "cpuid-xen-leaf4-domid-1"

    lea eax, [esi + 5]
    xor ecx, ecx
    cpuid
    or eax, ebx
    or eax, ecx
    or eax, edx
    CHECK32 "cpuid-xen-leaf5-zero"
    ret

; ---- The hypercall page ----
; One stub per hypercall n at 32 n: b8 n32 (mov eax, n), 0f 01 c1 (vmcall),
; c3 (ret), the rest INT3 (cc); the iret slot (23) starts with ud2 (0f 0b).
%macro CHECK_STUB32 2                   ; n, "name"
    mov eax, [hypercall_page + (%1) * 32]
    cmp eax, 0xb8 | ((%1) << 8)
    jne %%check
    mov eax, [hypercall_page + (%1) * 32 + 4]
    cmp eax, 0xc1010f00                 ; n's high byte, then 0f 01 c1
    jne %%check
    mov eax, [hypercall_page + (%1) * 32 + 8]
    cmp eax, 0xccccccc3
    jne %%check
    mov eax, [hypercall_page + (%1) * 32 + 28]
    cmp eax, 0xcccccccc
%%check:
    CHECK32 %2
%endmacro

; EXPECT_GP32 instruction, "name": the instruction raises #GP(0); the
; handler (exc32_common) records it and resumes after the instruction.
; Prints the vector (or the error code) the guest saw on a failure.
%macro EXPECT_GP32 2
    mov dword [fault_vector], -1
    mov dword [fault_resume], %%resume
    %1
%%resume:
    mov dword [fault_resume], 0
    mov eax, [fault_vector]
    cmp eax, 13
    jne %%check
    mov eax, [fault_error]
    test eax, eax
%%check:
    CHECK32 %2
%endmacro

pm32_hypercall_page:
    ; WRMSR: EDX:EAX = the page's guest-physical address | page index 0.
    mov ecx, [hypercall_msr]
    mov eax, hypercall_page
    xor edx, edx
    wrmsr
    CHECK_STUB32 0, "hypercall-page-stub-0"
    CHECK_STUB32 HYPERVISOR_xen_version, "hypercall-page-stub-17"
    CHECK_STUB32 HYPERVISOR_unknown, "hypercall-page-stub-60"
    CHECK_STUB32 127, "hypercall-page-stub-127"
    mov eax, [hypercall_page + HYPERVISOR_iret * 32]
    cmp eax, 0xcccc0b0f
    jne .iret
    mov eax, [hypercall_page + HYPERVISOR_iret * 32 + 28]
    cmp eax, 0xcccccccc
.iret:
    CHECK32 "hypercall-page-iret-slot-ud2"

    ; Page index 1 (only 0 exists), a page in the I/O APIC's MMIO and one
    ; past the end of RAM: #GP(0), the page as it was; RDMSR: #GP(0).
    mov ecx, XEN_HYPERCALL_MSR
    mov eax, hypercall_page + 1
    xor edx, edx
    EXPECT_GP32 wrmsr, "hypercall-msr-page-index-1-gp0"
    mov ecx, XEN_HYPERCALL_MSR
    mov eax, MMIO_IOAPIC
    xor edx, edx
    EXPECT_GP32 wrmsr, "hypercall-msr-mmio-address-gp0"
    mov ecx, XEN_HYPERCALL_MSR
    mov eax, PAST_RAM
    xor edx, edx
    EXPECT_GP32 wrmsr, "hypercall-msr-address-past-ram-gp0"
    mov ecx, XEN_HYPERCALL_MSR
    EXPECT_GP32 rdmsr, "hypercall-msr-rdmsr-gp0"
    CHECK_STUB32 HYPERVISOR_xen_version, "hypercall-page-unchanged-after-refused-writes"
    ret

; ---- Hypercalls from 32-bit protected mode ----
pm32_hypercalls:
    HCALL32 HYPERVISOR_xen_version, XENVER_version, 0
    cmp eax, XEN_VERSION_4_19
    CHECK32 "pm32-xen-version-4.19"
    HCALL32 HYPERVISOR_console_io, CONSOLEIO_write, msg_cio32_len, msg_cio32
    test eax, eax
    CHECK32 "pm32-console-io-write"
    HCALL32 HYPERVISOR_unknown
    cmp eax, -XEN_ENOSYS
    CHECK32 "pm32-unknown-hypercall-60-enosys"
    HCALL32 HYPERVISOR_xen_version, XENVER_unknown, 0
    cmp eax, -XEN_ENOSYS
    CHECK32 "pm32-xen-version-unknown-subop-enosys"
    HCALL32 HYPERVISOR_sched_op, SCHEDOP_yield, 0
    test eax, eax
    CHECK32 "pm32-sched-op-yield"
    ; Structures whose layout differs between 32 and 64 bits: Xen's x86_32
    ; ("compat") layouts, each with a canary after it that must survive.
    mov word [pm32_domid], DOMID_SELF
    HCALL32 HYPERVISOR_memory_op, XENMEM_current_reservation, pm32_domid
    cmp eax, RAM_PAGES
    CHECK32 "pm32-memory-current-reservation-ram-pages"
    ; xen_memory_reservation { u32 extent_start; u32 nr_extents; u32
    ; extent_order; u32 mem_flags; u16 domid }, a list of 32-bit frames.
    mov dword [pm32_buf], BALLOON_PAGE >> 12
    mov dword [pm32_buf + 4], CANARY32
    mov dword [pm32_arg], pm32_buf
    mov dword [pm32_arg + 4], 1
    mov dword [pm32_arg + 8], 0
    mov dword [pm32_arg + 12], 0
    mov dword [pm32_arg + 16], DOMID_SELF
    mov dword [pm32_arg + 20], CANARY32
    HCALL32 HYPERVISOR_memory_op, XENMEM_decrease_reservation, pm32_arg
    cmp eax, 1
    jne .decrease
    cmp dword [BALLOON_PAGE], 0xffffffff
    jne .decrease
    HCALL32 HYPERVISOR_memory_op, XENMEM_current_reservation, pm32_domid
    cmp eax, RAM_PAGES - 1
.decrease:
    CHECK32 "pm32-memory-decrease-reservation-32-bit-list"
    HCALL32 HYPERVISOR_memory_op, XENMEM_populate_physmap, pm32_arg
    cmp eax, 1
    jne .populate
    cmp dword [BALLOON_PAGE], 0
    jne .populate
    cmp dword [pm32_buf + 4], CANARY32
    jne .populate
    cmp dword [pm32_arg + 20], CANARY32
.populate:
    CHECK32 "pm32-memory-populate-physmap-32-bit-list"
    mov dword [pm32_arg + 4], CANARY32
    HCALL32 HYPERVISOR_xen_version, XENVER_platform_parameters, pm32_arg
    test eax, eax
    jnz .platform
    cmp dword [pm32_arg], 0xf5800000     ; an x86_32 guest's virt_start, 4 bytes
    jne .platform
    cmp dword [pm32_arg + 4], CANARY32
.platform:
    CHECK32 "pm32-xen-version-platform-parameters-4-bytes"
    ; xen_memory_map { u32 nr_entries; u32 buffer }, then the canary.
    mov dword [pm32_arg], 2
    mov dword [pm32_arg + 4], pm32_buf
    mov dword [pm32_arg + 8], CANARY32
    HCALL32 HYPERVISOR_memory_op, XENMEM_memory_map, pm32_arg
    test eax, eax
    jnz .map
    cmp dword [pm32_arg], 2
    jne .map
    cmp dword [pm32_buf + 16], E820_RAM  ; entry 0: { u64 addr 0, u64 size, u32 type }
    jne .map
    cmp dword [pm32_buf], 0
    jne .map
    cmp dword [pm32_arg + 8], CANARY32
.map:
    CHECK32 "pm32-memory-map-two-entries-ram-at-0"
    mov word [pm32_arg + GQS_DOM], DOMID_SELF
    HCALL32 HYPERVISOR_grant_table_op, GNTTABOP_query_size, pm32_arg, 1
    test eax, eax
    jnz .query
    cmp dword [pm32_arg + GQS_MAX_NR_FRAMES], 32
.query:
    CHECK32 "pm32-grant-query-size-max-32-frames"
    ; gnttab_setup_table { u16 dom; u32 nr_frames; s16 status; u32 frame_list }:
    ; no frame placed yet, so one 32-bit invalid frame number.
    mov dword [pm32_arg], DOMID_SELF
    mov dword [pm32_arg + 4], 1
    mov dword [pm32_arg + 8], 0x5555
    mov dword [pm32_arg + 12], pm32_frames
    mov dword [pm32_arg + 16], CANARY32
    mov dword [pm32_frames + 4], CANARY32
    HCALL32 HYPERVISOR_grant_table_op, GNTTABOP_setup_table, pm32_arg, 1
    test eax, eax
    jnz .setup
    cmp word [pm32_arg + 8], 0           ; GNTST_okay
    jne .setup
    cmp dword [pm32_frames], 0xffffffff
    jne .setup
    cmp dword [pm32_frames + 4], CANARY32
    jne .setup
    cmp dword [pm32_arg + 16], CANARY32
.setup:
    CHECK32 "pm32-grant-setup-table-32-bit-frame-list"
    ; sched_poll { u32 ports; u32 nr_ports; u64 timeout }: a timeout already
    ; past returns at once; an unbound port number is refused.
    mov dword [pm32_ports], 1            ; the console's channel
    mov dword [pm32_arg], pm32_ports
    mov dword [pm32_arg + 4], 1
    mov dword [pm32_arg + 8], 1
    mov dword [pm32_arg + 12], 0
    HCALL32 HYPERVISOR_sched_op, SCHEDOP_poll, pm32_arg
    test eax, eax
    CHECK32 "pm32-sched-poll-past-timeout-returns"
    mov dword [pm32_ports], 5000
    HCALL32 HYPERVISOR_sched_op, SCHEDOP_poll, pm32_arg
    cmp eax, -XEN_EINVAL
    CHECK32 "pm32-sched-poll-bad-port-einval"
    ; A runstate area registered from 32-bit mode: the union's low half is
    ; the address, the x86_32 layout is written (44 bytes), then it is
    ; unregistered (address 0).
    mov dword [pm32_arg], pm32_runstate
    mov dword [pm32_arg + 4], 0xdeadbeef
    mov dword [pm32_runstate], -1
    mov dword [pm32_runstate + 44], CANARY32
    HCALL32 HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, 0, pm32_arg
    test eax, eax
    jnz .runstate
    cmp dword [pm32_runstate], RUNSTATE_running
    jne .runstate
    cmp dword [pm32_runstate + 44], CANARY32
.runstate:
    CHECK32 "pm32-vcpu-runstate-area-x86-32-layout"
    mov dword [pm32_arg], 0
    mov dword [pm32_arg + 4], 0
    HCALL32 HYPERVISOR_vcpu_op, VCPUOP_register_runstate_memory_area, 0, pm32_arg
    test eax, eax
    CHECK32 "pm32-vcpu-runstate-area-unregistered"
    ; The same layout in both: hvm_op's xen_hvm_param, evtchn_status.
    mov word [pm32_arg + HP_DOMID], DOMID_SELF
    mov dword [pm32_arg + HP_INDEX], HVM_PARAM_CONSOLE_EVTCHN
    HCALL32 HYPERVISOR_hvm_op, HVMOP_get_param, pm32_arg
    test eax, eax
    jnz .param
    mov eax, [pm32_arg + HP_VALUE]
    cmp eax, 1
.param:
    CHECK32 "pm32-hvm-get-param-console-evtchn-1"
    mov word [pm32_arg + ES_DOM], DOMID_SELF
    mov dword [pm32_arg + ES_PORT], 1
    mov dword [pm32_arg + ES_STATUS], -1
    HCALL32 HYPERVISOR_event_channel_op, EVTCHNOP_status, pm32_arg
    test eax, eax
    jnz .status
    mov eax, [pm32_arg + ES_STATUS]
    cmp eax, EVTCHNSTAT_interdomain
.status:
    CHECK32 "pm32-evtchn-status-console-port-interdomain"
    ret

; ---- 32-bit exceptions: a probe (EXPECT_GP32) or the end ----
idt32_setup:
    xor ecx, ecx
.gate:
    mov eax, ecx
    shl eax, 4
    add eax, exc32_stubs                ; 16 bytes per stub
    mov [idt32 + ecx * 8], ax
    mov word [idt32 + ecx * 8 + 2], CODE32
    mov word [idt32 + ecx * 8 + 4], 0x8e00   ; present, DPL 0, 32-bit interrupt gate
    shr eax, 16
    mov [idt32 + ecx * 8 + 6], ax
    inc ecx
    cmp ecx, 32
    jb .gate
    lidt [idt32_desc]
    ret

; Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30.
%define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

    align 16
exc32_stubs:
%assign v 0
%rep 32
    align 16
%if !HAS_ERROR_CODE(v)
    push dword 0
%endif
    push dword v
    jmp exc32_common
%assign v v + 1
%endrep

; [esp] vector, error code, EIP, CS, EFLAGS
exc32_common:
    cmp dword [fault_resume], 0
    je .unexpected
    push eax
    mov eax, [esp + 4]
    mov [fault_vector], eax
    mov eax, [esp + 8]
    mov [fault_error], eax
    mov eax, [fault_resume]
    mov [esp + 12], eax
    pop eax
    add esp, 8
    iretd
.unexpected:
    mov esi, msg_exc32
    call xeno_puts32
    mov eax, [esp]
    call xeno_hex32
    mov esi, msg_error
    call xeno_puts32
    mov eax, [esp + 4]
    call xeno_hex32
    mov esi, msg_eip
    call xeno_puts32
    mov eax, [esp + 8]
    call xeno_hex32
    mov al, 10
    call xeno_putc32
    XENO_EXIT EXIT_EXCEPTION

; e_entry: a loader that ignores the PVH note comes here.
wrong_entry:
    BOOT_ENTRY bsp_stack_top
    mov esi, msg_wrong_entry
    call xeno_puts32
    XENO_EXIT EXIT_FAILED

    BOOT_PRINT_CHECK_ROUTINES           ; xeno_puts32 ..., CHECK32's routines, `failures`

%include "xa_long.asm"                  ; long mode: the switch, routines, the BSP's main line
%include "xa_version_memory.asm"
%include "xa_balloon.asm"
%include "xa_vcpu_events.asm"
%include "xa_grant_rings.asm"
%include "xa_smp.asm"

; ---- Read-only data and the GDT ----
msg_banner:     db "xen-abi: PVH entry, 32-bit protected mode", 10, 0
msg_no_xen:     db "xen-abi: no Xen CPUID leaves, giving up", 10, 0
msg_cio32:      db "xen-abi: console_io write from 32-bit protected mode", 10
msg_cio32_len   equ $ - msg_cio32
                db 0
msg_exc32:      db "FAIL unexpected exception in 32-bit mode: vector ", 0
msg_error:      db " error ", 0
msg_eip:        db " eip ", 0
msg_wrong_entry: db "FAIL entered at the ELF e_entry, not the XEN_ELFNOTE_PHYS32_ENTRY", 10, 0

    align 8
gdt:
    dq 0
    dq 0x00cf9a000000ffff               ; 0x08: 32-bit code
    dq 0x00cf92000000ffff               ; 0x10: data
    dq 0x00af9a000000ffff               ; 0x18: 64-bit code
    dq 0x00cff2000000ffff               ; 0x20: data, DPL 3
    dq 0x00affa000000ffff               ; 0x28: 64-bit code, DPL 3
tss_desc:
    dq 0, 0                             ; 0x30: the 64-bit TSS (written by tss_setup)
gdt_end:
    align 4
    dw 0
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
    align 4
    dw 0
idt32_desc:
    dw 32 * 8 - 1
    dd idt32
    align 4
    dw 0
idt64_desc:
    dw 256 * 16 - 1
    dq idt64

    align 4096                          ; the bss's pages start page aligned
image_end:

; ---- bss: zeroed by the loader (p_memsz past p_filesz) ----
absolute image_end
hypercall_page: resb 4096               ; the MSR write fills it
shinfo_page:    resb 4096               ; add_to_physmap(shared_info) places it here
vcpu0_page:     resb 4096               ; vCPU 0's vcpu_info at + VCPU0_INFO_OFFSET
vcpu1_page:     resb 4096               ; vCPU 1's at + VCPU1_INFO_OFFSET
grant_page:     resb 4096               ; grant table frame 0
alias_page:     resb 4096               ; what ALIAS maps
pml4:           resb 4096
pdpt:           resb 4096
pd0:            resb 4096               ; 0-1 GiB
pd1:            resb 4096               ; 1-2 GiB: the alias
pd3:            resb 4096               ; 3-4 GiB: the APICs
pt_alias:       resb 4096
idt64:          resb 4096
buf:            resb 4096               ; hypercall output buffers
xs_reply:       resb 4096
                resb 4096
ring3_stack_top:
                resb 4096
ring3_kstack_top:                       ; TSS.RSP0: INT 0x80 from ring 3 lands here
                resb 16384
bsp_stack_top:
                resb 16384
ap_stack_top:
idt32:          resb 32 * 8
tss64:          resb 104
arg:            resb 64                 ; hypercall argument structures
arg2:           resb 64
balloon_list:   resb 8 * BALLOON_COUNT  ; reservation extent lists (xa_balloon.asm)
pm32_arg:       resb 32
ap_arg:         resb 32                 ; the AP's hypercall arguments
ap_runstate:    resb 48
e820_buf:       resb 16 * E820_ENTRY_SIZE
runstate_area:  resb 48
runstate_buf:   resb 48
frame_list:     resq 4
xs_hdr:         resd 4
xs_rhdr:        resd 4
poll_ports:     resd 4
vcpu_info_ptr:  resq 2                  ; each vCPU's vcpu_info (shared_info's, then its own)
port_time:      resq 2 * 64             ; [vcpu][port]: system time of the last upcall that saw it
ring3_saved_rsp: resq 1
ring3_result:   resq 1
time0:          resq 1
time1:          resq 1
tsc0:           resq 1
tsc1:           resq 1
deadline:       resq 1
tick_time:      resq 4
clock_last:     resq 1                  ; xa_smp.asm: the last pvclock reading of either vCPU
ap_rc_register: resq 1                  ; xa_smp.asm: what the AP's hypercalls returned
ap_rc_vector:   resq 1
ap_rc_ipi:      resq 1
ap_runstate_rc: resq 1
; dwords from here
port_count:     resd 2 * 64             ; [vcpu][port]: upcalls that saw the port pending
port_other:     resd 2                  ; [vcpu]: ports >= 64 seen
port_vcpu:      resb 64                 ; [port]: the vCPU it is bound to (the upcall handlers' filter)
callback_upcalls: resd 2                ; [vcpu]: upcalls through HVM_PARAM_CALLBACK_IRQ's vector
vector_upcalls: resd 2                  ; [vcpu]: upcalls through the per-vCPU vector
xen_base:       resd 1
hypercall_msr:  resd 1
tsc_khz:        resd 1
leaf4_ebx:      resd 1
leaf4_ecx:      resd 1
fault_resume:   resd 1
fault_vector:   resd 1
fault_error:    resd 1
pm32_domid:     resd 1
pm32_buf:       resb 64               ; two e820 entries (20 bytes each)
pm32_frames:    resd 2
pm32_ports:     resd 1
pm32_runstate:  resb 48
console_port:   resd 1
store_port:     resd 1
port_a:         resd 1                  ; the loopback pair: alloc_unbound ...
port_b:         resd 1                  ; ... and bind_interdomain to it
port_timer:     resd 1
port_ipi:       resd 1
port_unbound:   resd 1
xs_req_id:      resd 1
xs_reply_len:   resd 1
pvclock_stuck:  resd 1
ap_stage:       resd 1                  ; xa_smp.asm: how far the AP got
ap_vcpu_id:     resd 1
ap_ipi_port:    resd 1
ap_runstate_state: resd 1
clock_lock:     resd 1
clock_backwards: resd 1
clock_rounds_done: resd 1
    BOOT_DATA                           ; boot_eax, boot_ebx, boot_eflags, ...
bss_end:
