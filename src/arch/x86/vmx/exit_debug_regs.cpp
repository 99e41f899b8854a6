// MOV DR exits ("MOV-DR exiting", always on): the guest's debug registers
// are the vcpu's. DR0-DR3 and DR6 live in its register block, which hal::run
// loads into the processor before each entry (hal/vmx.hpp); DR7 is VMCS
// guest state (GUEST_DR7, loaded and saved with the "load/save debug
// controls" entry and exit controls, SDM Vol. 3C 26.3.2.1, 28.3.1).
//
// The exit comes before every fault of the instruction (SDM Vol. 3C 26.1.3:
// MOV-DR exits take priority over the #GP for CPL > 0 and the #UD for DR4/DR5
// with CR4.DE; Bochs checks them after its exit as well), so the handler
// raises what the instruction would (SDM Vol. 2B "MOV - Move to/from Debug
// Registers", Vol. 3B 18.2), in the order Bochs does: #UD for DR4/DR5 with
// CR4.DE=1, #DB when DR7.GD is set (general detect), #GP(0) at CPL > 0, and
// #GP(0) for a 1 in bits 63:32 of a DR6 or DR7 value.
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"

namespace xeno::vmx {

namespace {

constexpr u64 kDr6Bd = bit(13);          // debug-register access detected
constexpr u64 kDr6Writable = 0xe00f;     // B0-B3, BD, BS, BT
constexpr u64 kDr6Fixed1 = 0xffff0ff0;   // reserved bits that read as 1 (bit 12 reads as 0)
constexpr u64 kDr7Gd = bit(13);          // general detect enable
constexpr u64 kDr7Writable = 0xffff2fff; // bits 12, 14, 15 read as 0
constexpr u64 kDr7Fixed1 = 0x400;

}  // namespace

void handle_dr_access(Vcpu& v, const ExitInfo& exit)
{
    const DrQualification q = decode_dr_qualification(exit.qualification);
    unsigned dr = q.dr;
    if (dr == 4 || dr == 5) {
        if (guest_cr4_view(v) & cr4::DE) {
            inject_exception(v, vector::UD, 0);
            return;
        }
        dr += 2;  // without debug extensions DR4/DR5 are DR6/DR7
    }
    const u64 dr7 = vmcs_read(field::GUEST_DR7);
    if (dr7 & kDr7Gd) {
        // A fault (RIP stays) with DR6.BD; the processor clears GD so that
        // the #DB handler may use the debug registers (SDM Vol. 3B 18.2.4).
        v.regs.dr6 |= kDr6Bd;
        (void)vmcs_write(field::GUEST_DR7, dr7 & ~kDr7Gd);
        inject_exception(v, vector::DB, 0);
        return;
    }
    if (guest_cpl(v) != 0) {
        inject_exception(v, vector::GP, 0);
        return;
    }
    // Outside 64-bit mode the operand is 32 bits whatever the prefixes.
    const u64 width = guest_in_64bit_mode(v) ? ~u64{0} : 0xffffffff;
    if (q.from_dr) {
        const u64 value = dr < 4 ? v.regs.dr[dr] : dr == 6 ? v.regs.dr6 : dr7;
        write_gpr(v, q.gpr, value & width);
    } else {
        const u64 value = read_gpr(v, q.gpr) & width;
        if (dr < 4) {
            v.regs.dr[dr] = value;
        } else if (value >> 32) {
            inject_exception(v, vector::GP, 0);
            return;
        } else if (dr == 6) {
            v.regs.dr6 = (value & kDr6Writable) | kDr6Fixed1;
        } else {
            (void)vmcs_write(field::GUEST_DR7, (value & kDr7Writable) | kDr7Fixed1);
        }
    }
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
