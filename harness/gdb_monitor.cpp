// `monitor` commands of the GDB stub (qRcmd): the run's virtual time and
// exit count, its last VM exits, a vcpu's VMCS, guest-physical memory.
#include <cstdlib>
#include <string>

#include <fmt/core.h>

#include "harness/gdb_target.hpp"
#include "harness/gdb_vmcs_fields.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/vmcs_store.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::harness::gdb {

std::string Target::physical_dump(const std::string& arg)
{
    // "ADDR [LEN]", numbers as C writes them (0x... hex); LEN bytes, 16 a line.
    char* end = nullptr;
    const std::uint64_t address = std::strtoull(arg.c_str(), &end, 0);
    if (end == arg.c_str()) return "monitor phys ADDR [LEN]: a guest-physical address (LEN bytes, default 16, at most 256)\n";
    std::uint64_t length = 16;
    if (*end) {
        char* end2 = nullptr;
        length = std::strtoull(end, &end2, 0);
        if (end2 == end || length == 0 || length > 256)
            return "monitor phys ADDR [LEN]: a guest-physical address (LEN bytes, default 16, at most 256)\n";
    }
    std::string out;
    for (std::uint64_t i = 0; i < length; ++i) {
        std::uint64_t machine = 0;
        if (!engine_->peek_guest_physical(address + i, &machine)) {
            out += fmt::format("{}{:#x}: not mapped through EPT (monitor phys needs a guest that runs with EPT)\n",
                               i % 16 ? "\n" : "", address + i);
            return out;
        }
        if (i % 16 == 0) out += fmt::format("{}{:#x}:", i ? "\n" : "", address + i);
        out += fmt::format(" {:02x}", memory_->data()[machine]);
    }
    return out + "\n";
}

std::string Target::monitor(const std::string& command, std::uint32_t vcpu)
{
    std::string word = command, arg;
    if (const std::size_t space = command.find(' '); space != std::string::npos) {
        word = command.substr(0, space);
        arg = command.substr(command.find_first_not_of(' ', space) == std::string::npos
                                 ? command.size()
                                 : command.find_first_not_of(' ', space));
    }
    if (!engine_) return "the machine is not running\n";
    if (word == "vtime") return fmt::format("vtime_ns={}\n", engine_->vtime_ns());
    if (word == "exits") return fmt::format("exits={}\n", engine_->exit_count());
    if (word == "position") return fmt::format("position={} vcpu={}\n", position_, current_vcpu_);
    if (word == "trace") {
        std::size_t n = 10;
        if (!arg.empty()) n = static_cast<std::size_t>(std::strtoull(arg.c_str(), nullptr, 10));
        if (n == 0 || n > kRecentExits) return fmt::format("monitor trace N: N from 1 to {}\n", kRecentExits);
        std::string out;
        const std::size_t first = recent_exits_.size() > n ? recent_exits_.size() - n : 0;
        for (std::size_t i = first; i < recent_exits_.size(); ++i) out += recent_exits_[i] + "\n";
        return out.empty() ? std::string("no VM exits yet\n") : out;
    }
    if (word == "vmcs") {
        std::uint32_t which = vcpu;
        if (!arg.empty()) which = static_cast<std::uint32_t>(std::strtoul(arg.c_str(), nullptr, 10));
        if (which >= vmcs_.size() || !vmcs_[which]) return fmt::format("no vcpu {}\n", which);
        // The vcpu on the engine has its guest state live in the engine:
        // VMREAD through its VMX CPU sees it; another's VMCS holds its own.
        const bool live = which == current_vcpu_;
        const auto get = [&](std::uint32_t e) {
            std::uint64_t v = 0;
            if (live && e == enc::RIP) uc_reg_read(uc_, UC_X86_REG_RIP, &v);  // the model's GUEST_RIP is the last exit's
            else if (live) (void)vmx_->vmread(e, &v);
            else v = vmcs_[which]->get(e);
            return v;
        };
        static constexpr std::pair<const char*, std::uint32_t> kFields[] = {
            {"GUEST_RIP", enc::RIP}, {"GUEST_RSP", enc::RSP}, {"GUEST_RFLAGS", enc::RFLAGS},
            {"GUEST_CR0", enc::CR0}, {"GUEST_CR3", enc::CR3}, {"GUEST_CR4", enc::CR4},
            {"GUEST_IA32_EFER", enc::EFER}, {"GUEST_CS_SELECTOR", enc::CS_SEL}, {"GUEST_CS_BASE", enc::CS_BASE},
            {"GUEST_INTERRUPTIBILITY_INFO", enc::INTERRUPTIBILITY}, {"GUEST_ACTIVITY_STATE", enc::ACTIVITY},
            {"PIN_BASED_VM_EXEC_CONTROL", enc::PIN}, {"CPU_BASED_VM_EXEC_CONTROL", enc::PROC},
            {"SECONDARY_VM_EXEC_CONTROL", enc::PROC2}, {"EXCEPTION_BITMAP", enc::EXC_BITMAP},
            {"VM_EXIT_CONTROLS", enc::EXIT_CTLS}, {"VM_ENTRY_CONTROLS", enc::ENTRY_CTLS}, {"EPT_POINTER", enc::EPTP},
        };
        std::string out = fmt::format("vcpu {} VMCS at {:#x}\n", which, vmcs_[which]->address().value());
        for (auto [name, e] : kFields) out += fmt::format("{:<28} {:#x}\n", name, get(e));
        return out;
    }
    if (word == "phys") return physical_dump(arg);
    return "monitor commands: vtime, exits, position, trace [N], vmcs [VCPU], phys ADDR [LEN]\n";
}

}  // namespace xeno::harness::gdb
