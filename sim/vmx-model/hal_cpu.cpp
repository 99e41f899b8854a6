// The sim build's definitions of the host-CPU part of the seam
// (src/hal/cpu.hpp): they act on the simulated host CPU of the running
// machine. hal::time_ns is the engine's (sim/vmx-model/engine).
#include "arch/x86/vmx/vmx_arch.hpp"
#include "hal/cpu.hpp"
#include "hal/panic.hpp"
#include "sim/platform/sim_context.hpp"
#include "sim/vmx-model/engine/vtime.hpp"
#include "sim/vmx-model/host_cpu.hpp"

namespace xeno::hal {

namespace {
sim::HostCpu& host()
{
    sim::HostCpu* h = sim::sim_context().host;
    if (!h) panic("sim: the running machine has no host CPU");
    return *h;
}

// The host TSC runs on virtual time unless the machine gave it another source.
u64 rdmsr_host(u32 msr)
{
    sim::HostCpu& h = host();
    if (msr == vmx::msr::IA32_TSC && !h.has_tsc_source()) {
        const u64 hz = h.profile().tsc_hz;
        h.set_tsc_source([hz] { return sim::tsc_at_ns(time_ns(), hz); });
    }
    return h.rdmsr(msr);
}
}  // namespace

CpuidResult cpuid(u32 leaf, u32 subleaf) { return host().cpuid(leaf, subleaf); }
u64 rdmsr(u32 msr) { return rdmsr_host(msr); }
void wrmsr(u32 msr, u64 value)
{
    if (msr == vmx::msr::IA32_TSC) rdmsr_host(msr);  // attach the virtual-time TSC source first
    host().wrmsr(msr, value);
}
u64 read_cr0() { return host().cr0(); }
u64 read_cr3() { return host().cr3(); }
u64 read_cr4() { return host().cr4(); }
void write_cr0(u64 value) { host().write_cr0(value); }
void write_cr4(u64 value) { host().write_cr4(value); }
HostSegments host_segments() { return host().segments(); }

// The sim host has no devices behind port I/O: reads float high.
u8 inb(u16) { return 0xff; }
void outb(u16, u8) {}

// The simulated machine has one physical CPU: the vcpus of a domain share it
// in a fixed order (core/scheduler.hpp), which is what makes runs replay.
u32 start_cpus(u32) { return 1; }
u32 cpu_count() { return 1; }
void run_on_all_cpus(CpuWork work, void* context) { work(0, context); }
u32 this_cpu() { return 0; }
void kick_cpu(u32) {}

}  // namespace xeno::hal
