// The state hal::run switches between vcpus that entries and exits leave
// alone. The x87/SSE registers in and out of the engine as an FXSAVE image (SDM
// Vol. 1 Table 10-2; hal/vmx.hpp FpuState): what the hw build's hal::run
// does with FXRSTOR and FXSAVE. Unicorn's registers: FPCW, FPSW (TOP in bits
// 13:11), FPTAG (two bits a physical register, 3 = empty), ST0-ST7 as the
// physical registers, MXCSR, XMM0-XMM15. FXSAVE's ST slots are stack order
// (slot i holds ST(i), physical register (TOP + i) mod 8) and its tag byte
// is abridged (bit i: physical register i not empty).
#include <cstring>

#include "sim/vmx-model/engine/engine.hpp"

namespace xeno::sim {

namespace {

constexpr usize kFcw = 0, kFsw = 2, kFtw = 4, kFop = 6, kFip = 8, kFdp = 16, kMxcsr = 24, kSt = 32, kXmm = 160;

u64 read_reg(uc_engine* uc, int id)
{
    u64 v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

void write_reg(uc_engine* uc, int id, u64 v) { uc_reg_write(uc, id, &v); }

u16 le16(const u8* p) { return static_cast<u16>(p[0] | p[1] << 8); }

}  // namespace

void Engine::load_fpu(const hal::FpuState& fpu)
{
    const u8* b = fpu.bytes;
    const u16 fsw = le16(b + kFsw);
    const unsigned top = (fsw >> 11) & 7;
    write_reg(uc_, UC_X86_REG_FPCW, le16(b + kFcw));
    write_reg(uc_, UC_X86_REG_FPSW, fsw);
    u16 tags = 0;
    for (unsigned i = 0; i < 8; ++i)
        if (!((b[kFtw] >> i) & 1)) tags = static_cast<u16>(tags | 3u << (2 * i));
    write_reg(uc_, UC_X86_REG_FPTAG, tags);
    for (unsigned i = 0; i < 8; ++i) {
        u8 st[10];
        std::memcpy(st, b + kSt + 16 * i, sizeof st);
        uc_reg_write(uc_, UC_X86_REG_ST0 + static_cast<int>((top + i) & 7), st);
    }
    u32 mxcsr;
    std::memcpy(&mxcsr, b + kMxcsr, 4);
    write_reg(uc_, UC_X86_REG_MXCSR, mxcsr);
    for (int i = 0; i < 16; ++i) {
        u8 x[16];
        std::memcpy(x, b + kXmm + 16 * i, sizeof x);
        uc_reg_write(uc_, UC_X86_REG_XMM0 + i, x);
    }
    u64 fip, fdp;
    std::memcpy(&fip, b + kFip, 8);
    std::memcpy(&fdp, b + kFdp, 8);
    write_reg(uc_, UC_X86_REG_FIP, fip);
    write_reg(uc_, UC_X86_REG_FDP, fdp);
    write_reg(uc_, UC_X86_REG_FOP, le16(b + kFop));
}

void Engine::save_fpu(hal::FpuState& fpu)
{
    u8* b = fpu.bytes;
    std::memset(b, 0, sizeof fpu.bytes);
    const u16 fcw = static_cast<u16>(read_reg(uc_, UC_X86_REG_FPCW));
    const u16 fsw = static_cast<u16>(read_reg(uc_, UC_X86_REG_FPSW));
    const u16 tags = static_cast<u16>(read_reg(uc_, UC_X86_REG_FPTAG));
    const unsigned top = (fsw >> 11) & 7;
    std::memcpy(b + kFcw, &fcw, 2);
    std::memcpy(b + kFsw, &fsw, 2);
    u8 abridged = 0;
    for (unsigned i = 0; i < 8; ++i)
        if (((tags >> (2 * i)) & 3) != 3) abridged = static_cast<u8>(abridged | 1u << i);
    b[kFtw] = abridged;
    const u16 fop = static_cast<u16>(read_reg(uc_, UC_X86_REG_FOP));
    std::memcpy(b + kFop, &fop, 2);
    const u64 fip = read_reg(uc_, UC_X86_REG_FIP), fdp = read_reg(uc_, UC_X86_REG_FDP);
    std::memcpy(b + kFip, &fip, 8);
    std::memcpy(b + kFdp, &fdp, 8);
    const u32 mxcsr = static_cast<u32>(read_reg(uc_, UC_X86_REG_MXCSR));
    const u32 mxcsr_mask = 0xffff;  // the bits MXCSR implements (SDM Vol. 1 11.6.6)
    std::memcpy(b + kMxcsr, &mxcsr, 4);
    std::memcpy(b + kMxcsr + 4, &mxcsr_mask, 4);
    for (unsigned i = 0; i < 8; ++i) {
        u8 st[10] = {};
        uc_reg_read(uc_, UC_X86_REG_ST0 + static_cast<int>((top + i) & 7), st);
        std::memcpy(b + kSt + 16 * i, st, sizeof st);
    }
    for (int i = 0; i < 16; ++i) uc_reg_read(uc_, UC_X86_REG_XMM0 + i, b + kXmm + 16 * i);
}

u64 Engine::guest_msr(u32 msr)
{
    uc_x86_msr m{msr, 0};
    uc_reg_read(uc_, UC_X86_REG_MSR, &m);
    return m.value;
}

void Engine::set_guest_msr(u32 msr, u64 value)
{
    uc_x86_msr m{msr, value};
    uc_reg_write(uc_, UC_X86_REG_MSR, &m);
}

}  // namespace xeno::sim
