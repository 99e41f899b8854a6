// The walk over every allowed-1 VMX control of every profile
// (model_controls_test.cpp) and its demonstrations (control_demos.cpp):
// for a control the model implements, a guest that shows the control's
// effect (an exit where it should be, or behaviour that changes with it);
// for one it does not, the VM entry it refuses.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/vmx-model/entry_checks.hpp"
#include "sim/vmx-model/model_controls.hpp"
#include "tests/engine/fixture.hpp"

namespace xeno::sim::test {

// The five control words and their capability MSRs (non-TRUE: the TRUE ones
// have the same allowed-1 settings).
enum class CtlWord { PIN, PROC, PROC2, EXIT, ENTRY };
inline constexpr CtlWord kCtlWords[] = {CtlWord::PIN, CtlWord::PROC, CtlWord::PROC2, CtlWord::EXIT, CtlWord::ENTRY};

u32 ctl_msr(CtlWord w);
u32 ctl_allowed1(const CpuProfile& p, CtlWord w);
u32 ctl_allowed0(const CpuProfile& p, CtlWord w);  // of the MSR VM entry checks (TRUE where present)
u32 ctl_implemented(const CpuProfile& p, CtlWord w);

// A guest on profile `p` that passes the model's VM-entry checks: 32-bit
// protected mode with paging (a 4 MiB identity map), a valid 64-bit host
// state, the must-be-1 controls plus HLT and unconditional I/O exiting,
// every exception exiting. `why` gets the rule of a failed entry.
struct Trial {
    explicit Trial(const CpuProfile& p);
    Guest g;
    std::string why;

    // Set or clear `bits` of a control word (PROC2 also activates the
    // secondary controls).
    void control(CtlWord w, u32 bits, bool on);
    void code(u64 at, std::initializer_list<u8> bytes) { g.code(at, bytes); }
    hal::VmxResult run() { return g.run(); }
    u32 reason(usize i) const { return i < g.exits.size() ? g.exits[i].reason : ~0u; }
    // 64-bit mode (IA-32e, CS.L) on 4-level tables identity-mapping 2 MiB.
    void long64();
    // A 32-bit interrupt gate for `vector` to `handler` in the IDT at 0.
    void gate(u8 vector, u32 handler);
};

using Demo = void (*)(const CpuProfile& p);
// The demonstration for an implemented control, or nullptr.
Demo control_demo(CtlWord w, unsigned bit);

struct DemoEntry {
    CtlWord word;
    unsigned bit;
    Demo demo;
};
const std::vector<DemoEntry>& demos_pin_proc();              // control_demos.cpp
const std::vector<DemoEntry>& demos_secondary_exit_entry();  // control_demos_more.cpp

// The helpers the demonstrations share (control_demos.cpp).
inline constexpr u64 kDemoEptp = 0x40000 | (3 << 3) | 6;  // 4-level, write-back
using Setup = std::function<void(Trial&)>;
struct Pair {
    std::unique_ptr<Trial> on, off;
};
// The guest `code` at 0x10000 after `setup`, with the control set and clear.
Pair both(const CpuProfile& p, CtlWord w, u32 bit, const Setup& setup, std::initializer_list<u8> code);
// The control makes `code` exit with `reason`; without it, it does not.
void exits_only_with(const CpuProfile& p, CtlWord w, u32 bit, vmx::ExitReason reason, std::initializer_list<u8> code,
                     const Setup& setup = [](Trial&) {});
void ept(Trial& t);              // EPT identity-mapping 2 MiB (one 2 MiB page, RWX, WB)
void msr_passthrough(Trial& t);  // an MSR bitmap intercepting nothing

}  // namespace xeno::sim::test
