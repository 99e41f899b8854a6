// I/O instruction exits (SDM Vol. 3C 28.2.1 Table 28-5 qualification, 28.2.5
// instruction information for INS/OUTS): routed to the domain's I/O bus.
#include "arch/x86/vmx/cr_values.hpp"
#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/realmode_emulate.hpp"
#include "core/domain.hpp"
#include "hal/memory.hpp"

namespace xeno::vmx {

namespace {

// At most this many elements of a REP string instruction per exit: the rest
// re-executes (RIP stays, RCX counts down), so a huge count cannot keep the
// hypervisor busy for long.
constexpr u64 kMaxStringElementsPerExit = 4096;

u64 address_mask(unsigned address_size_code)
{
    return address_size_code == 0 ? 0xffff : address_size_code == 1 ? 0xffffffffull : ~u64{0};
}

u64 segment_base(unsigned seg)
{
    switch (seg) {
    case 0: return vmcs_read(field::GUEST_ES_BASE);
    case 1: return vmcs_read(field::GUEST_CS_BASE);
    case 2: return vmcs_read(field::GUEST_SS_BASE);
    case 3: return vmcs_read(field::GUEST_DS_BASE);
    case 4: return vmcs_read(field::GUEST_FS_BASE);
    default: return vmcs_read(field::GUEST_GS_BASE);
    }
}

void handle_string_io(Vcpu& v, const ExitInfo& exit, const IoQualification& q)
{
    // String I/O goes through guest memory at the linear address the CPU
    // reports; while the guest has paging off, linear = guest-physical, and
    // the loop below does it. With paging on the addresses go through the
    // guest's page tables (with their faults): the instruction emulator's job.
    if (guest_cr0_view(v) & cr0::PG) {
        emulate_guest_instruction(v);
        return;
    }
    // Address size: instruction information bits 9:7 when the CPU reports it
    // (IA32_VMX_BASIC bit 54), else 16-bit real-mode code.
    const unsigned asz = (v.caps().basic & kBasicInsOutsInfo) ? static_cast<unsigned>(bits(exit.instruction_info, 9, 7)) : 0;
    const u64 mask = address_mask(asz);
    const bool down = (vmcs_read(field::GUEST_RFLAGS) & kRflagsDF) != 0;
    const unsigned index_reg = q.in ? 7 : 6;  // RDI for INS, RSI for OUTS
    u64 count = q.rep ? (read_gpr(v, 1) & mask) : 1;
    if (count == 0) {
        advance_rip(v, exit);
        return;
    }
    const u64 todo = count < kMaxStringElementsPerExit ? count : kMaxStringElementsPerExit;
    devices::IoBus& bus = v.domain().io();
    // The first element's linear address: segment base + index register.
    // With INS/OUTS instruction information (IA32_VMX_BASIC bit 54) the
    // segment of OUTS is in bits 17:15 (SDM 28.2.5, Table 28-8); INS always
    // uses ES. Without it, the CPU's guest-linear-address field is used.
    const bool has_info = (v.caps().basic & kBasicInsOutsInfo) != 0;
    const unsigned seg = q.in ? 0 : static_cast<unsigned>(bits(exit.instruction_info, 17, 15));
    u64 gla = has_info ? segment_base(seg) + (read_gpr(v, index_reg) & mask) : exit.guest_linear;
    for (u64 i = 0; i < todo; ++i) {
        u32 value = 0;
        if (q.in) {
            value = bus.read(q.port, q.size);
            if (v.domain().p2m().copy_to_guest(Gpa{gla}, &value, q.size, &hal::machine_memory_written) != Status::OK) {
                v.end_guest_fault("INS into memory outside guest RAM");
                return;
            }
        } else {
            if (v.domain().p2m().copy_from_guest(&value, Gpa{gla}, q.size) != Status::OK) {
                v.end_guest_fault("OUTS from memory outside guest RAM");
                return;
            }
            bus.write(q.port, q.size, value);
            if (v.domain().ended()) break;
        }
        gla = down ? gla - q.size : gla + q.size;
    }
    const u64 moved = todo * q.size;
    const u64 index = read_gpr(v, index_reg);
    const u64 next = down ? index - moved : index + moved;
    write_gpr(v, index_reg, (index & ~mask) | (next & mask));
    if (q.rep) {
        const u64 rcx = read_gpr(v, 1);
        count -= todo;
        write_gpr(v, 1, (rcx & ~mask) | (count & mask));
        if (count != 0) return;  // re-execute for the rest
    }
    advance_rip(v, exit);
}

}  // namespace

void handle_io(Vcpu& v, const ExitInfo& exit)
{
    const IoQualification q = decode_io_qualification(exit.qualification);
    if (q.size != 1 && q.size != 2 && q.size != 4) {
        v.end_guest_fault("I/O exit with an invalid access size");
        return;
    }
    if (q.string) {
        handle_string_io(v, exit, q);
        return;
    }
    devices::IoBus& bus = v.domain().io();
    if (q.in) {
        v.regs.gpr[0] = io_in_rax(v.regs.gpr[0], bus.read(q.port, q.size), q.size);
    } else {
        bus.write(q.port, q.size, static_cast<u32>(v.regs.gpr[0]) & devices::size_mask(q.size));
    }
    advance_rip(v, exit);
}

}  // namespace xeno::vmx
