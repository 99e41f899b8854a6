// The hypervisor's start routine (boot_info.hpp), the same in both builds:
// command line, machine frames, VMX, one HVM domain with one vcpu, run it,
// report how it ended, leave VMX operation.
#include "arch/x86/vmx/exit_dispatch.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "arch/x86/vmx/vmcs_setup.hpp"
#include "arch/x86/vmx/vmx_cpu_setup.hpp"
#include "core/boot_info.hpp"
#include "core/cmdline.hpp"
#include "core/domain.hpp"
#include "core/log.hpp"
#include "core/run_stats.hpp"
#include "core/vcpu.hpp"
#include "hal/memory.hpp"
#include "mm/heap.hpp"
#include "hal/vmx.hpp"

namespace xeno {

namespace {
RunStats g_run_stats;
}  // namespace

const RunStats& last_run_stats() { return g_run_stats; }

namespace {

// Negative results of start(): the hypervisor could not run the guest.
constexpr int kErrorCmdline = -2;
constexpr int kErrorMemory = -3;
constexpr int kErrorVmx = -4;
constexpr int kErrorDomain = -5;
constexpr int kErrorVmEntry = -6;

Status init_frames(const BootInfo& boot, mm::FrameAllocator& frames)
{
    mm::HpaRange reserved[mm::FrameAllocator::kMaxReserved];
    usize n = 0;
    if (boot.image_end > boot.image_start) reserved[n++] = {boot.image_start, boot.image_end};
    for (usize i = 0; i < boot.module_count && n < mm::FrameAllocator::kMaxReserved; ++i)
        reserved[n++] = {boot.modules[i].start, boot.modules[i].start + boot.modules[i].size};
    const Status s = frames.init(boot.regions, boot.region_count, reserved, n, &hal::machine_to_virt);
    if (s != Status::OK) {
        LogLine{}.str("mm: cannot build the frame allocator: ").str(status_name(s));
        return s;
    }
    LogLine{}.str("mm: ").dec(frames.total_frames()).str(" frames (").dec(frames.total_frames() >> 8)
        .str(" MiB) managed, bitmap at ").hex(frames.bitmap_start().value());
    return Status::OK;
}

Result<GuestPaging> choose_paging(const Options& o, const vmx::VmxCaps& caps)
{
    const bool ept_ok = caps.ept_usable() && caps.unrestricted_guest();
    switch (o.paging) {
    case PagingMode::AUTO: return ept_ok ? GuestPaging::EPT : GuestPaging::SHADOW;
    case PagingMode::SHADOW: return GuestPaging::SHADOW;
    case PagingMode::EPT:
        if (!ept_ok) {
            LogLine{}.str("paging=ept: this CPU lacks EPT (4-level, WB) or unrestricted guest; use paging=shadow");
            return Status::UNSUPPORTED;
        }
        return GuestPaging::EPT;
    }
    return Status::BAD_ARGUMENT;
}

// Shadow paging's counters into the run stats and the log, then its memory
// back to the frame allocator.
void record_shadow_stats(Vcpu& v)
{
    if (v.paging != GuestPaging::SHADOW) return;
    const paging::ShadowStats& s = v.shadow.stats();
    g_run_stats.shadow_paging = true;
    g_run_stats.shadow = s;
    LogLine{}.str("shadow: ").dec(s.faults).str(" #PF exits (").dec(s.fills).str(" filled, ").dec(s.guest_faults)
        .str(" the guest's), ").dec(s.emulated_writes).str(" page-table writes emulated, pages in use ")
        .dec(s.pages_in_use).str(" peak ").dec(s.pages_peak).str(", roots cached ").dec(s.roots_cached).str(" hits ")
        .dec(s.root_hits).str(" misses ").dec(s.root_misses).str(", evictions ").dec(s.evicted_roots)
        .str(", full flushes ").dec(s.full_flushes);
    v.shadow.destroy();
}

void log_exit_counts(const Vcpu& v)
{
    LogLine line;
    line.str("exits: ").dec(v.exit_seq).str(" emulated=").dec(v.emulated_instructions);
    for (usize r = 0; r < Vcpu::kExitReasons; ++r)
        if (v.exit_counts[r]) line.ch(' ').str(vmx::exit_reason_name(static_cast<u32>(r))).ch('=').dec(v.exit_counts[r]);
}

// Everything after VMXON; the caller leaves VMX operation whatever happens.
int run_domain(const BootInfo& boot, const Options& opts, mm::FrameAllocator& frames, const vmx::VmxCaps& caps)
{
    Result<GuestPaging> paging = choose_paging(opts, caps);
    if (!paging.ok()) return kErrorCmdline;
    if (boot.module_count == 0) {
        LogLine{}.str("domain: no guest image (boot module 0) given");
        return kErrorDomain;
    }

    Domain domain;
    if (domain.build(frames, opts.guest_mem_mb << 20, boot.modules[0], Gpa{opts.guest_load}) != Status::OK)
        return kErrorDomain;

    Vcpu vcpu(domain, caps);
    vcpu.paging = paging.value();
    vcpu.trace = opts.trace;
    vcpu.shadow_max_pages = opts.shadow_pages;
    if (vmx::vmcs_setup(vcpu, frames, static_cast<u16>(opts.guest_entry)) != Status::OK) return kErrorVmx;
    LogLine{}.str("domain: running guest at 0:").hex(opts.guest_entry).str(" (")
        .str(vcpu.paging == GuestPaging::EPT ? "ept" : "shadow").str(")");

    const hal::VmxResult r = hal::run(vcpu.regs, &vmx::on_vm_exit, &vcpu);
    g_run_stats.exits = vcpu.exit_seq;
    g_run_stats.emulated_instructions = vcpu.emulated_instructions;
    record_shadow_stats(vcpu);
    log_exit_counts(vcpu);
    if (r != hal::VmxResult::SUCCEED) {
        u64 err = 0;
        if (r == hal::VmxResult::FAIL_VALID) (void)hal::vmread(vmx::field::VM_INSTRUCTION_ERROR.kEncoding, &err);
        LogLine{}.str("vmx: VM entry failed (")
            .str(r == hal::VmxResult::FAIL_INVALID ? "VMfailInvalid" : "VMfailValid, VM-instruction error ")
            .dec(r == hal::VmxResult::FAIL_VALID ? err : 0).ch(')');
        vmx::dump_guest_state(vcpu);
        return kErrorVmEntry;
    }
    if (!domain.ended()) {
        LogLine{}.str("domain: hal::run returned before the domain ended");
        return kErrorVmEntry;
    }
    LogLine{}.str("domain: exit status ").sdec(domain.exit_status());
    return domain.exit_status();
}

}  // namespace

int start(const BootInfo& boot)
{
    LogLine{}.str("Xeno hypervisor: ").dec(boot.region_count).str(" memory regions, ").dec(boot.module_count)
        .str(" modules, cmdline '").str(boot.cmdline ? boot.cmdline : "").ch('\'');

    g_run_stats = RunStats{};
    Options opts;
    FixedWriter<200> error;
    if (parse_cmdline(boot.cmdline, &opts, error) != Status::OK) {
        LogLine{}.str(error.c_str());
        return kErrorCmdline;
    }

    mm::FrameAllocator frames;
    if (init_frames(boot, frames) != Status::OK) return kErrorMemory;
    const mm::HeapScope heap_scope(frames);  // xeno::heap() allocates from `frames` until start() returns

    vmx::vmcs_access_failures() = 0;
    vmx::VmxCaps caps;
    if (vmx::vmx_cpu_enable(frames, caps) != Status::OK) return kErrorVmx;

    const int status = run_domain(boot, opts, frames, caps);
    if (vmx::vmcs_access_failures())
        LogLine{}.str("vmx: ").dec(vmx::vmcs_access_failures()).str(" VMREAD/VMWRITE failures, last field ")
            .hex(vmx::vmcs_last_failed_encoding());
    vmx::vmx_cpu_disable();
    return status;
}

}  // namespace xeno
