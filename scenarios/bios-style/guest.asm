; bios-style: a small POST in real mode, the way PC firmware does it, each
; step verified by the guest: one line per check ("ok <name>" or
; "FAIL <name> got=<value>"), exit status 0 only if every check passed.
;
;   IVT setup: all 256 vectors to a default handler that counts, then the
;     services: INT 10h AH=0Eh (teletype to the UART), INT 12h (base memory
;     size), INT 15h AH=88h (extended memory size) and AH=87h (block move)
;   A20 through System Control Port A (port 0x92), checked with the classic
;     wrap-around test (0000:0500 against FFFF:0510)
;   big real mode: 4 GiB DS/ES from a trip to protected mode, a 4 KiB block
;     copied to 2 MiB with A32 REP MOVSD and compared with A32 REPE CMPSD
;   INT 15h AH=87h: the service switches to 16-bit protected mode with the
;     caller's descriptor table, copies 2 MiB -> 3 MiB (and back to 128 KiB
;     in a second call), returns to real mode with 64 KiB segments and
;     CF=0/AH=0; the caller checks the data and that real mode still works.
%include "xeno.inc"
%include "xeno_check.inc"

RM_STACK    equ 0x7000
BDA_BASEMEM equ 0x413           ; BIOS data area: base memory in KiB
PATTERN_SEG equ 0x1000          ; the block at 64 KiB
COPY_SEG    equ 0x2000          ; where the second block move lands (128 KiB)
BLOCK_BYTES equ 4096
HIGH_A      equ 0x200000        ; big real mode copies here
HIGH_B      equ 0x300000        ; the first INT 15h block move copies here
GUEST_MB    equ 16              ; scenario.toml memory_mb

CODE16      equ 0x08            ; the POST's own GDT
BIG_DATA    equ 0x10

    org 0x8000
    bits 16
start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, RM_STACK
    cld

; ---- IVT -------------------------------------------------------------------------
    xor di, di
    mov cx, 256
.fill:
    mov word [es:di], default_handler
    mov word [es:di + 2], 0
    add di, 4
    loop .fill
    mov word [0x10 * 4], int10_handler
    mov word [0x12 * 4], int12_handler
    mov word [0x15 * 4], int15_handler
    mov word [BDA_BASEMEM], 639

    mov si, msg_banner          ; through INT 10h from here on
    call bios_puts
    movzx eax, word [0x15 * 4]
    cmp eax, int15_handler
    CHECK16 "ivt-int15-vector"
    int 0x12
    movzx eax, ax
    cmp eax, 639
    CHECK16 "int12-base-memory"
    mov ah, 0x88
    int 0x15
    movzx eax, ax
    cmp eax, (GUEST_MB - 1) * 1024
    CHECK16 "int15-88-extended-memory"

; ---- A20 -------------------------------------------------------------------------
    in al, 0x92
    or al, 2                    ; A20 on
    and al, 0xfe                ; never the reset bit
    out 0x92, al
    in al, 0x92
    movzx eax, al
    and eax, 2
    cmp eax, 2
    CHECK16 "a20-port92"
    mov ax, 0xffff
    mov fs, ax
    mov byte [0x500], 0x12
    mov byte [fs:0x510], 0x34   ; 0x100500: the same byte as 0x500 without A20
    movzx eax, byte [0x500]
    cmp eax, 0x12
    CHECK16 "a20-no-wraparound"
    xor ax, ax
    mov fs, ax

; ---- the block to move: 4 KiB at 64 KiB ------------------------------------------
    mov ax, PATTERN_SEG
    mov es, ax
    xor di, di
    mov cx, BLOCK_BYTES / 2
    mov ax, 0x55aa
.pattern:
    stosw
    add ax, 0x9e37
    rol ax, 3
    loop .pattern
    xor ax, ax
    mov es, ax

; ---- big real mode: copy to 2 MiB ------------------------------------------------
    lgdt [post_gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp CODE16:.pm
.pm:
    mov ax, BIG_DATA
    mov ds, ax
    mov es, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:.unreal
.unreal:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov esi, PATTERN_SEG * 16
    mov edi, HIGH_A
    mov ecx, BLOCK_BYTES / 4
    a32 rep movsd
    mov eax, edi
    cmp eax, HIGH_A + BLOCK_BYTES
    CHECK16 "unreal-copy-to-2m"
    mov esi, PATTERN_SEG * 16
    mov edi, HIGH_A
    mov ecx, BLOCK_BYTES / 4
    a32 repe cmpsd
    mov eax, ecx
    test eax, eax
    CHECK16 "unreal-verify-2m"
    mov eax, [dword HIGH_A + BLOCK_BYTES - 4]
    cmp eax, [dword PATTERN_SEG * 16 + BLOCK_BYTES - 4]
    CHECK16 "unreal-last-dword"

; ---- INT 15h AH=87h: protected mode and back for a service call -------------------
    mov eax, HIGH_A
    mov ebx, HIGH_B
    call block_move             ; 2 MiB -> 3 MiB
    CHECK16 "int15-87-status-high"
    mov eax, HIGH_B
    mov ebx, COPY_SEG * 16
    call block_move             ; 3 MiB -> 128 KiB
    CHECK16 "int15-87-status-low"
    ; Back in ordinary real mode (the service left 64 KiB segments): compare
    ; 128 KiB with the original at 64 KiB with 16-bit string instructions.
    push ds
    push es
    mov ax, PATTERN_SEG
    mov ds, ax
    mov ax, COPY_SEG
    mov es, ax
    xor si, si
    xor di, di
    mov cx, BLOCK_BYTES / 2
    repe cmpsw
    pop es
    pop ds
    movzx eax, cx
    test eax, eax
    CHECK16 "int15-87-data"
    mov eax, cr0
    and eax, 1
    CHECK16 "int15-87-back-in-real-mode"
    mov ax, cs
    movzx eax, ax
    test eax, eax
    CHECK16 "int15-87-cs"
    movzx eax, byte [unexpected_ints]
    test eax, eax
    CHECK16 "no-unexpected-interrupts"

    mov eax, [failures]
    test eax, eax
    jnz .failed
    mov si, msg_all_passed
    call bios_puts
    XENO_EXIT 0
.failed:
    XENO_EXIT al

; EAX: source, EBX: destination (linear, below 16 MiB). Builds the INT 15h
; AH=87h descriptor table and calls the service for BLOCK_BYTES.
; ZF=1 when the service reported success (CF=0, AH=0); EAX = AX on return.
block_move:
    mov di, move_gdt + 0x10
    call .descriptor
    mov eax, ebx
    mov di, move_gdt + 0x18
    call .descriptor
    push es
    xor ax, ax
    mov es, ax
    mov si, move_gdt
    mov cx, BLOCK_BYTES / 2
    mov ah, 0x87
    int 0x15
    pop es
    movzx eax, ax
    jc .failed
    test ah, ah
    ret
.failed:
    or eax, 0x10000             ; CF set: never zero
    test eax, eax
    ret
.descriptor:                    ; DI: the entry, EAX: base
    mov word [di], BLOCK_BYTES - 1
    mov [di + 2], ax
    shr eax, 16
    mov [di + 4], al
    mov byte [di + 5], 0x93
    mov byte [di + 6], 0
    mov [di + 7], ah
    ret

bios_puts:                      ; DS:SI through INT 10h AH=0Eh
    push ax
    push si
.next:
    lodsb
    test al, al
    jz .done
    mov ah, 0x0e
    int 0x10
    jmp .next
.done:
    pop si
    pop ax
    ret

; ---- the BIOS services ---------------------------------------------------------
default_handler:
    push ds
    push ax
    xor ax, ax
    mov ds, ax
    inc byte [unexpected_ints]
    pop ax
    pop ds
    iret

int10_handler:
    cmp ah, 0x0e
    jne .done
    call xeno_putc16
.done:
    iret

int12_handler:
    push ds
    xor ax, ax
    mov ds, ax
    mov ax, [BDA_BASEMEM]
    pop ds
    iret

; INT 15h: AH=88h extended memory in KiB; AH=87h block move (ES:SI: the
; caller's 48-byte GDT, CX words). Return CF in the caller's FLAGS.
int15_handler:
    cmp ah, 0x88
    je .ext_mem
    cmp ah, 0x87
    je .block_move
    mov ah, 0x86                ; unsupported function
    jmp .fail
.ext_mem:
    mov ax, (GUEST_MB - 1) * 1024
    jmp .ok
.block_move:
    push ds
    push es
    push ss
    push fs
    push gs
    push bx
    push cx
    push si
    push di
    ; Complete the caller's table: 0x08 the table itself, 0x20 our code,
    ; 0x28 our stack (SDM 3A 3.4.5 descriptors; 16-bit, 64 KiB).
    xor ebx, ebx
    mov bx, es
    shl ebx, 4
    movzx eax, si
    add ebx, eax                ; the table's linear address
    mov word [es:si + 0x08], 47
    mov [es:si + 0x0a], bx
    mov eax, ebx
    shr eax, 16
    mov [es:si + 0x0c], al
    mov byte [es:si + 0x0d], 0x93
    mov word [es:si + 0x0e], 0
    ; LGDT with a 16-bit operand takes 24 bits of base (SDM Vol. 2A LGDT):
    ; the access byte 0x93 just written above them must not count.
    mov dword [es:si + 0x20], 0x0000ffff    ; code: base 0 (CS=0), 64 KiB
    mov dword [es:si + 0x24], 0x00009b00
    mov dword [es:si + 0x28], 0x0000ffff    ; stack: base 0 (SS=0), 64 KiB
    mov dword [es:si + 0x2c], 0x00009300
    lgdt [es:si + 0x08]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x20:.pm
.pm:
    mov ax, 0x28
    mov ss, ax
    mov ax, 0x10
    mov ds, ax
    mov ax, 0x18
    mov es, ax
    xor si, si
    xor di, di
    rep movsw
    mov ax, 0x28                ; 64 KiB segments for real mode
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:.rm
.rm:
    xor ax, ax
    mov ss, ax
    pop di
    pop si
    pop cx
    pop bx
    pop gs
    pop fs
    pop ss
    pop es
    pop ds
    xor ah, ah
.ok:
    push bp
    mov bp, sp
    and word [bp + 6], 0xfffe   ; the caller's CF
    pop bp
    iret
.fail:
    push bp
    mov bp, sp
    or word [bp + 6], 1
    pop bp
    iret

    XENO_PRINT16_ROUTINES
    XENO_PRINT32_ROUTINES
    CHECK_ROUTINES

    align 8
post_gdt:
    dq 0
    dq 0x00009a000000ffff       ; 0x08: 16-bit code, base 0, 64 KiB
    dq 0x00cf92000000ffff       ; 0x10: data, 4 GiB
post_gdt_end:
post_gdt_desc:
    dw post_gdt_end - post_gdt - 1
    dd post_gdt

    align 8
move_gdt: times 48 db 0         ; the caller's INT 15h AH=87h table

unexpected_ints: db 0
msg_banner: db "bios-style POST", 10, 0
msg_all_passed: db "bios-style: all checks passed", 10, 0
