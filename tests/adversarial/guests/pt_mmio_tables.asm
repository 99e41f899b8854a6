; pt_mmio_tables: 64-bit paging structures that are not RAM: a page
; directory in the I/O APIC's MMIO page, one past the end of RAM, and a
; page table in the local APIC page. The walk reads them from the bus (all
; ones past RAM; device registers in MMIO), which the hypervisor treats as
; all ones: a present entry with reserved bits, so each access is a page
; fault with error code P | RSVD (| W) at the address (SDM 4.7). Status 0
; when every access faulted so.
%include "adv.inc"
PD_L     equ 0x200000
    ADV_LONG main
main:
    mov rax, 0xfec00000 | 3
    mov [ADV_PDPT + 4 * 8], rax           ; 4-5 GiB: a PD in the I/O APIC page
    mov rax, 0x2000000 | 3
    mov [ADV_PDPT + 5 * 8], rax           ; 5-6 GiB: a PD past RAM
    mov rdi, PD_L
    mov ecx, 512
    xor eax, eax
    rep stosq
    mov rax, 0xfee00000 | 3
    mov [PD_L], rax                       ; 6 GiB: a PT in the local APIC page
    mov rax, PD_L | 3
    mov [ADV_PDPT + 6 * 8], rax
    mov rax, cr3
    mov cr3, rax
    mov rsi, 0x100000000
    call probe
    mov rsi, 0x140000000
    call probe
    mov rsi, 0x180000000
    call probe
    XENO_EXIT 0

; RSI: a read and a write there must page-fault with RSVD.
probe:
    EXPECT .read_faulted
    mov eax, [rsi + 0x88]
    XENO_EXIT 2
.read_faulted:
    FAULTED_ERR 14, 0x9, 3
    mov rax, cr2
    lea rbx, [rsi + 0x88]
    cmp rax, rbx
    FAIL_IF ne, 4
    EXPECT .write_faulted
    mov dword [rsi + 0x88], 0
    XENO_EXIT 5
.write_faulted:
    FAULTED_ERR 14, 0xb, 6
    ret
    ADV_ROUTINES
