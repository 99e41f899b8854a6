// String instructions MOVS CMPS STOS LODS SCAS INS OUTS with REP/REPE/REPNE
// (SDM Vol. 2 REP/REPE/REPNE "Operation"), and port I/O with the I/O
// permission checks (SDM Vol. 1 19.5).
#include "arch/x86/emulate/emulator.hpp"

#include "arch/x86/vmx/vmx_arch.hpp"

namespace xeno::emu {

namespace {
// Iterations one emulate_one call performs before it returns with RIP still on
// the instruction, so a long REP cannot hold the vcpu forever.
constexpr unsigned kMaxIterations = 4096;
}  // namespace

bool Emulator::io_permitted(u16 port, unsigned size)
{
    if (mode == CpuMode::REAL) return true;
    const unsigned iopl = static_cast<unsigned>((s.rflags & flag::IOPL) >> 12);
    if (mode != CpuMode::VM86 && cpl(s) <= iopl) return true;
    // The I/O permission bitmap of the current 32/64-bit TSS.
    const u32 type = s.tr.ar & vmx::ar::TYPE_MASK;
    if ((type != 9 && type != 11) || s.tr.limit < 103) return gp0();
    u8 raw[2] = {};
    if (!read_linear(s.tr.base + 102, raw, 2, AccessKind::READ, true)) return false;
    const u32 io_base = raw[0] | (u32{raw[1]} << 8);
    const u32 at = io_base + port / 8;
    if (at + 1 > s.tr.limit) return gp0();
    if (!read_linear(s.tr.base + at, raw, 2, AccessKind::READ, true)) return false;
    const u32 bitmap = raw[0] | (u32{raw[1]} << 8);
    const u32 mask = ((1u << size) - 1) << (port & 7);
    return (bitmap & mask) ? gp0() : true;
}

bool Emulator::port_in(u16 port, unsigned size, u64& value)
{
    if (!io_permitted(port, size)) return false;
    u32 v = 0;
    if (!ops().io_in || ops().io_in(ops().ctx, port, size, &v) != AccessStatus::OK) {
        result.outcome = EmulateOutcome::IO_NEEDED;
        result.io_port = port;
        result.io_size = static_cast<u8>(size);
        result.io_write = false;
        return false;
    }
    value = v & alu::size_mask(size);
    return true;
}

bool Emulator::port_out(u16 port, unsigned size, u64 value)
{
    if (!io_permitted(port, size)) return false;
    const u32 v = static_cast<u32>(value & alu::size_mask(size));
    if (!ops().io_out || ops().io_out(ops().ctx, port, size, v) != AccessStatus::OK) {
        result.outcome = EmulateOutcome::IO_NEEDED;
        result.io_port = port;
        result.io_size = static_cast<u8>(size);
        result.io_write = true;
        return false;
    }
    return true;
}

bool Emulator::execute_string(u8 op)
{
    const bool io = op >= 0x6c && op <= 0x6f;
    const unsigned size = (op & 1) ? (io ? (opsize == 2 ? 2 : 4) : opsize) : 1;
    const Seg src = data_seg(Seg::DS);
    const u64 am = addr_mask();
    const u64 delta = (s.rflags & flag::DF) ? (u64{0} - size) : size;
    const bool repeat = rep || repne;
    const bool compares = op == 0xa6 || op == 0xa7 || op == 0xae || op == 0xaf;
    unsigned done = 0;
    for (;;) {
        if (repeat && get_gpr(RCX, addrsize) == 0) break;
        const u64 si = get_gpr(RSI, addrsize), di = get_gpr(RDI, addrsize);
        u64 a = 0, b = 0;
        switch (op) {
        case 0x6c:
        case 0x6d:  // INS: ES:rDI <- port DX (ES cannot be overridden)
            if (!port_in(static_cast<u16>(s.gpr[RDX]), size, a) || !write(Seg::ES, di, size, a)) return false;
            set_gpr(RDI, addrsize, (di + delta) & am);
            break;
        case 0x6e:
        case 0x6f:  // OUTS
            if (!read(src, si, size, a) || !port_out(static_cast<u16>(s.gpr[RDX]), size, a)) return false;
            set_gpr(RSI, addrsize, (si + delta) & am);
            break;
        case 0xa4:
        case 0xa5:  // MOVS
            if (!read(src, si, size, a) || !write(Seg::ES, di, size, a)) return false;
            set_gpr(RSI, addrsize, (si + delta) & am);
            set_gpr(RDI, addrsize, (di + delta) & am);
            break;
        case 0xa6:
        case 0xa7:  // CMPS: [rSI] - ES:[rDI]
            if (!read(src, si, size, a) || !read(Seg::ES, di, size, b)) return false;
            alu::binary(alu::Op::CMP, a, b, size, s.rflags);
            set_gpr(RSI, addrsize, (si + delta) & am);
            set_gpr(RDI, addrsize, (di + delta) & am);
            break;
        case 0xaa:
        case 0xab:  // STOS
            if (!write(Seg::ES, di, size, get_gpr(RAX, size))) return false;
            set_gpr(RDI, addrsize, (di + delta) & am);
            break;
        case 0xac:
        case 0xad:  // LODS
            if (!read(src, si, size, a)) return false;
            set_gpr(RAX, size, a);
            set_gpr(RSI, addrsize, (si + delta) & am);
            break;
        default:  // SCAS: rAX - ES:[rDI]
            if (!read(Seg::ES, di, size, b)) return false;
            alu::binary(alu::Op::CMP, get_gpr(RAX, size), b, size, s.rflags);
            set_gpr(RDI, addrsize, (di + delta) & am);
            break;
        }
        if (!repeat) return true;
        set_gpr(RCX, addrsize, (get_gpr(RCX, addrsize) - 1) & am);
        // Each iteration is complete on its own: commit it, so a fault or an
        // I/O stop in a later one keeps it (as the processor does).
        if (!commit_writes()) return false;
        saved = s;
        saved.rip = ip_start;
        rep_partial = true;
        ++done;
        if (compares) {
            const bool zf = s.rflags & flag::ZF;
            if ((rep && !zf) || (repne && zf)) break;
        }
        if (done >= kMaxIterations && get_gpr(RCX, addrsize) != 0) {
            s.rip = ip_start;  // resume here on the next call
            branched = true;
            return true;
        }
    }
    return true;
}

}  // namespace xeno::emu
