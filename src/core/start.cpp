// The hypervisor's start routine (boot_info.hpp), the same in both builds:
// command line, machine frames, the other physical CPUs, VMX, one HVM
// domain with its vcpus, run it on the CPUs, report how it ended, leave VMX
// operation.
#include "arch/x86/vmx/exit_dispatch.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "arch/x86/vmx/vmcs_setup.hpp"
#include "arch/x86/vmx/vmx_cpu_setup.hpp"
#include "boot/domain_builder.hpp"
#include "core/boot_info.hpp"
#include "core/cmdline.hpp"
#include "core/domain.hpp"
#include "core/hv_lock.hpp"
#include "core/log.hpp"
#include "core/run_stats.hpp"
#include "core/scheduler.hpp"
#include "core/vcpu.hpp"
#include "hal/cpu.hpp"
#include "hal/memory.hpp"
#include "hal/vmx.hpp"
#include "mm/heap.hpp"

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
constexpr int kErrorKernel = -7;  // the domain builder refused the kernel (logged: "domain: kernel refused: ...")
constexpr int kErrorVmcsAccess = -8;  // a VMREAD or VMWRITE failed: a hypervisor bug (vmx/vmcs.hpp)

// The longest kernel command line the "append" module may carry.
constexpr u64 kMaxKernelCmdline = 65536;

// on_reset=restart boots a guest that keeps resetting at most this often.
constexpr u32 kMaxBoots = 16;

// memory_zeroed: whether free memory is known to read zero (boot's promise,
// which no longer holds once a previous boot of the domain used it).
Status init_frames(const BootInfo& boot, mm::FrameAllocator& frames, bool memory_zeroed)
{
    mm::HpaRange reserved[mm::FrameAllocator::kMaxReserved];
    usize n = 0;
    if (boot.image_end > boot.image_start) reserved[n++] = {boot.image_start, boot.image_end};
    for (usize i = 0; i < boot.module_count && n < mm::FrameAllocator::kMaxReserved; ++i)
        reserved[n++] = {boot.modules[i].start, boot.modules[i].start + boot.modules[i].size};
    const Status s = frames.init(boot.regions, boot.region_count, reserved, n, &hal::machine_to_virt, memory_zeroed);
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

void log_exit_counts(Vcpu& v)
{
    LogLine line;
    line.str("exits: ").dec(v.exit_seq).str(" emulated=").dec(v.emulated_instructions);
    if (v.domain().vcpu_count() > 1) line.str(" vcpu=").dec(v.id());
    for (usize r = 0; r < Vcpu::kExitReasons; ++r)
        if (v.exit_counts[r]) line.ch(' ').str(vmx::exit_reason_name(static_cast<u32>(r))).ch('=').dec(v.exit_counts[r]);
}

// The boot module the harness or the boot loader named `name`, or null.
const BootModule* find_module(const BootInfo& boot, const char* name)
{
    for (usize i = 1; i < boot.module_count; ++i)
        if (boot.modules[i].cmdline && string_equal(boot.modules[i].cmdline, name)) return &boot.modules[i];
    return nullptr;
}

void report_vmx_failure(Vcpu& vcpu, hal::VmxResult r)
{
    u64 err = 0;
    if (r == hal::VmxResult::FAIL_VALID) (void)hal::vmread(vmx::field::VM_INSTRUCTION_ERROR.kEncoding, &err);
    LogLine{}.str("vmx: VM entry of vcpu ").dec(vcpu.id()).str(" failed (")
        .str(r == hal::VmxResult::FAIL_INVALID ? "VMfailInvalid" : "VMfailValid, VM-instruction error ")
        .dec(r == hal::VmxResult::FAIL_VALID ? err : 0).ch(')');
    vmx::dump_guest_state(vcpu);
}

// Module 0 is a kernel for the domain builder (its string "kernel"), not a
// flat image.
bool is_kernel(const BootModule& module) { return module.cmdline && string_equal(module.cmdline, "kernel"); }

// The kernel, the modules "initrd" and "append" (the kernel's command line,
// bytes without a NUL) through the domain builder.
Result<boot::KernelBoot> build_kernel(Domain& domain, const BootInfo& boot)
{
    boot::KernelInputs in;
    in.kernel = static_cast<const u8*>(hal::machine_to_virt(boot.modules[0].start));
    in.kernel_size = boot.modules[0].size;
    if (const BootModule* initrd = find_module(boot, "initrd")) {
        in.initrd = static_cast<const u8*>(hal::machine_to_virt(initrd->start));
        in.initrd_size = initrd->size;
    }
    if (const BootModule* append = find_module(boot, "append")) {
        if (append->size > kMaxKernelCmdline) {
            LogLine{}.str("domain: kernel refused: a command line of ").dec(append->size).str(" bytes (at most ")
                .dec(kMaxKernelCmdline).ch(')');
            return Status::TOO_LARGE;
        }
        Result<void*> copy = heap().allocate(append->size + 1, 16);
        if (!copy.ok()) return copy.status();
        char* text = static_cast<char*>(copy.value());
        const char* bytes = static_cast<const char*>(hal::machine_to_virt(append->start));
        for (u64 i = 0; i < append->size; ++i) text[i] = bytes[i] ? bytes[i] : ' ';
        text[append->size] = '\0';
        in.cmdline = text;
    }
    return boot::build_kernel_domain(domain, in);
}

// The vcpus of the domain, from the hypervisor heap; destroyed in reverse.
struct VcpuSet {
    Vcpu* vcpus[kMaxVcpus] = {};
    u32 count = 0;
    ~VcpuSet()
    {
        while (count) destroy(vcpus[--count]);
    }
};

// What the physical CPUs share while they run the domain.
struct DomainRun {
    Domain& domain;
    mm::FrameAllocator& frames;
    const vmx::VmxCaps& caps;  // the boot CPU's; every CPU must have the same
    const Options& opts;
    vmx::GuestStart bsp_start;  // how vcpu 0 starts (the APs wait for a SIPI)
    u32 cpus = 1;      // CPUs running vcpus: vcpu i on CPU i % cpus
    int error = 0;     // a start() error, from the first CPU that failed
    u64 switches = 0;  // summed over the CPUs' schedulers
};

// A CPU could not do its part: the run fails with `error`, and the domain
// ends so that the other CPUs stop. Called with the big lock held.
void fail_run(DomainRun& run, int error, const char* why)
{
    if (run.error == 0) run.error = error;
    run.domain.end(DomainEnd::CRASHED, kGuestCrashStatus, why);
}

// VMX operation on a CPU other than the boot CPU, with the boot CPU's
// capabilities (the VMCSs are set up for those).
bool enter_vmx_on_ap(DomainRun& run, u32 cpu)
{
    vmx::VmxCaps mine;
    FixedWriter<96> why;
    if (vmx::vmx_cpu_enable(run.frames, mine, vmx::CapsLog::QUIET) != Status::OK) {
        why.str("cpu ").dec(cpu).str(" cannot enter VMX operation");
        fail_run(run, kErrorVmx, why.c_str());
        return false;
    }
    if (__builtin_memcmp(&mine, &run.caps, sizeof mine) != 0) {
        why.str("cpu ").dec(cpu).str("'s VMX capabilities differ from the boot CPU's");
        fail_run(run, kErrorVmx, why.c_str());
        vmx::vmx_cpu_disable();
        return false;
    }
    return true;
}

// One physical CPU's share (hal::run_on_all_cpus): VMX operation (the boot
// CPU is in it already), the VMCSs of its vcpus, its scheduler.
void run_on_cpu(u32 cpu, void* context)
{
    DomainRun& run = *static_cast<DomainRun*>(context);
    if (cpu >= run.cpus) return;
    Domain& domain = run.domain;
    {
        const LockGuard guard(hv_lock());
        if (cpu != 0 && !enter_vmx_on_ap(run, cpu)) return;
        for (u32 i = cpu; i < domain.vcpu_count() && !domain.ended(); i += run.cpus) {
            if (vmx::vmcs_setup(domain.vcpu(i), run.frames, i == 0 ? run.bsp_start
                                                                       : vmx::GuestStart::real_mode(0)) != Status::OK)
                fail_run(run, kErrorVmx, "a vcpu's VMCS could not be set up");
        }
    }
    {
        Scheduler scheduler(domain, cpu, run.cpus, run.opts.quantum_us * 1000);
        const hal::VmxResult r = scheduler.run();
        const LockGuard guard(hv_lock());
        run.switches += scheduler.switches();
        if (r != hal::VmxResult::SUCCEED) {
            report_vmx_failure(scheduler.current() ? *scheduler.current() : domain.vcpu(cpu), r);
            fail_run(run, kErrorVmEntry, "a VM entry failed");
        }
    }
    if (cpu != 0) vmx::vmx_cpu_disable();
}

// Everything after VMXON; the caller leaves VMX operation whatever happens.
// *restart: the guest reset the machine and on_reset=restart wants it booted again.
int run_domain(const BootInfo& boot, const Options& opts, mm::FrameAllocator& frames, const vmx::VmxCaps& caps,
               bool* restart)
{
    Result<GuestPaging> paging = choose_paging(opts, caps);
    if (!paging.ok()) return kErrorCmdline;
    if (boot.module_count == 0) {
        LogLine{}.str("domain: no guest image (boot module 0) given");
        return kErrorDomain;
    }

    Domain domain(opts);
    if (domain.build_memory(frames, opts.guest_mem_mb << 20) != Status::OK) return kErrorDomain;
    g_run_stats.p2m_table = domain.p2m().table().value();
    g_run_stats.p2m_frames = domain.p2m().guest_frames();
    vmx::GuestStart bsp_start = vmx::GuestStart::real_mode(static_cast<u16>(opts.guest_entry));
    const bool kernel_boot = is_kernel(boot.modules[0]);
    if (kernel_boot) {
        Result<boot::KernelBoot> k = build_kernel(domain, boot);
        if (!k.ok()) return kErrorKernel;
        bsp_start = k.value().start;
    } else if (domain.load_flat_image(boot.modules[0], Gpa{opts.guest_load}) != Status::OK) {
        return kErrorDomain;
    }
    if (const BootModule* input = find_module(boot, "serial-in"))
        domain.attach_serial_input(static_cast<const u8*>(hal::machine_to_virt(input->start)), input->size);

    VcpuSet set;
    for (u32 i = 0; i < opts.smp; ++i) {
        Result<Vcpu*> made = create<Vcpu>(domain, caps, i);
        if (!made.ok()) {
            LogLine{}.str("domain: no memory for vcpu ").dec(i);
            return kErrorDomain;
        }
        Vcpu& vcpu = *made.value();
        set.vcpus[set.count++] = &vcpu;
        vcpu.paging = paging.value();
        vcpu.trace = opts.trace;
        vcpu.shadow_max_pages = opts.shadow_pages;
        if (kernel_boot) vcpu.msrs.mtrrs.def_type = vmx::kMtrrDefTypeFirmware;
        if (domain.add_vcpu(vcpu) != Status::OK) return kErrorDomain;
    }
    // Several CPUs only under EPT: the shadow page tables are one cache that
    // the vcpus fill without invalidating each other's TLBs.
    DomainRun run{domain, frames, caps, opts, bsp_start};
    if (paging.value() == GuestPaging::EPT) run.cpus = hal::cpu_count() < opts.smp ? hal::cpu_count() : opts.smp;
    if (run.cpus > 1) LogLine{}.str("domain: ").dec(opts.smp).str(" vcpus on ").dec(run.cpus).str(" physical CPUs");
    {
        LogLine line;
        line.str("domain: running guest at ");
        switch (bsp_start.mode) {
        case vmx::GuestStart::Mode::REAL: line.str("0:").hex(bsp_start.ip); break;
        case vmx::GuestStart::Mode::FLAT32: line.hex(bsp_start.ip).str(" (32-bit)"); break;
        case vmx::GuestStart::Mode::LONG64: line.hex(bsp_start.ip).str(" (64-bit)"); break;
        }
        line.str(" (").str(paging.value() == GuestPaging::EPT ? "ept" : "shadow").str(", ").dec(opts.smp).str(" vcpu")
            .str(opts.smp == 1 ? ")" : "s)");
    }

    hal::run_on_all_cpus(&run_on_cpu, &run);
    *restart = domain.restart_requested() && run.error == 0;
    u64 exits = 0, emulated = 0;
    for (u32 i = 0; i < set.count; ++i) {
        exits += set.vcpus[i]->exit_seq;
        emulated += set.vcpus[i]->emulated_instructions;
    }
    g_run_stats.exits = exits;
    g_run_stats.emulated_instructions = emulated;
    g_run_stats.vcpu_switches = run.switches;
    record_shadow_stats(*set.vcpus[0]);
    for (u32 i = 0; i < set.count; ++i) log_exit_counts(*set.vcpus[i]);
    if (run.error != 0) return run.error;
    if (!domain.ended()) {
        LogLine{}.str("domain: the scheduler returned before the domain ended");
        return kErrorVmEntry;
    }
    g_run_stats.end = domain.end_kind();
    const char* why = domain.end_reason();
    usize n = 0;
    for (; why[n] && n + 1 < sizeof g_run_stats.end_reason; ++n) g_run_stats.end_reason[n] = why[n];
    g_run_stats.end_reason[n] = '\0';
    LogLine{}.str("domain: end=").str(domain_end_name(domain.end_kind())).str(" status ").sdec(domain.exit_status());
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

    // Other physical CPUs only for domains that can use them.
    if (opts.smp > 1) hal::start_cpus(opts.maxcpus);

    int status = 0;
    for (u32 boot_number = 1;; ++boot_number) {
        mm::FrameAllocator frames;
        if (init_frames(boot, frames, boot_number == 1 && boot.memory_zeroed) != Status::OK) return kErrorMemory;
        const mm::HeapScope heap_scope(frames);  // xeno::heap() allocates from `frames` until this boot ends

        vmx::vmcs_access_failures() = 0;
        vmx::VmxCaps caps;
        if (vmx::vmx_cpu_enable(frames, caps, boot_number == 1 ? vmx::CapsLog::ALL : vmx::CapsLog::QUIET) != Status::OK)
            return kErrorVmx;
        bool restart = false;
        status = run_domain(boot, opts, frames, caps, &restart);
        if (vmx::vmcs_access_failures()) {
            // A failed VMREAD or VMWRITE is a hypervisor bug, never something
            // a guest can cause: the run fails with it, whatever the guest
            // did, and the failure is the run's reason (not the domain's end).
            Writer why(g_run_stats.end_reason, sizeof g_run_stats.end_reason);
            why.str("vmx: ").dec(vmx::vmcs_access_failures())
                .str(" VMREAD/VMWRITE failures (a hypervisor bug), last field ").hex(vmx::vmcs_last_failed_encoding());
            LogLine{}.str(why.c_str());
            status = kErrorVmcsAccess;
            restart = false;
        }
        vmx::vmx_cpu_disable();
        if (!restart) break;
        if (boot_number == kMaxBoots) {
            LogLine{}.str("domain: the guest reset the machine ").dec(kMaxBoots).str(" times: not booting it again");
            break;
        }
        LogLine{}.str("domain: booting the guest again (boot ").dec(boot_number + 1).ch(')');
    }
    return status;
}

}  // namespace xeno
