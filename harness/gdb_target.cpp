#include "harness/gdb_target.hpp"
#include "harness/gdb_vmcs_fields.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <fmt/core.h>

#include "arch/x86/vmx/vmx_arch.hpp"
#include "harness/gdb_server.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine.hpp"
#include "sim/vmx-model/vmcs_store.hpp"
#include "sim/vmx-model/vmx_cpu.hpp"

namespace xeno::harness::gdb {

namespace {

// How often (in instructions) a running guest looks for Ctrl-C or a client.
constexpr std::uint64_t kPollInterval = 1 << 14;
// Bytes a debugger may read or write at once.
constexpr std::size_t kMaxMemoryAccess = 8192;


// Target order of the GPRs (rax rbx rcx rdx rsi rdi rbp rsp r8-r15) as
// indices into hal::GuestRegs::gpr (x86 encoding order).
constexpr int kGprEncoding[16] = {0, 3, 1, 2, 6, 7, 5, 4, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr int kGprUc[16] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
                            UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP,
                            UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                            UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};
constexpr int kSelectorUc[6] = {UC_X86_REG_CS, UC_X86_REG_SS, UC_X86_REG_DS,
                                UC_X86_REG_ES, UC_X86_REG_FS, UC_X86_REG_GS};

// `bytes` little-endian bytes of value; past its 8 bytes zeros (a run of
// registers the engine does not keep is written as one put of 0).
void put(std::string& out, std::uint64_t value, int bytes)
{
    for (int i = 0; i < bytes; ++i) out.push_back(i < 8 ? static_cast<char>(value >> (8 * i)) : '\0');
}

}  // namespace

int register_size(int regno)
{
    if (regno < 0 || regno >= kRegisterCount) return 0;
    if (regno < 17) return 8;            // GPRs, rip
    if (regno < 24) return 4;            // eflags, selectors
    if (regno < 32) return 10;           // st0-st7
    if (regno < 40) return 4;            // fctrl .. fop
    return 8;                            // fs_base gs_base cr0 cr2 cr3 cr4 efer
}

Target::Target(Server& server, bool stop_at_first_instruction)
    : server_(server), stop_at_first_(stop_at_first_instruction)
{
}

void Target::machine_started(sim::Engine& engine, sim::MachineMemory& memory, sim::VmxCpu& vmx)
{
    engine_ = &engine;
    memory_ = &memory;
    vmx_ = &vmx;
    uc_ = engine.unicorn();
    position_ = 0;
    current_vcpu_ = 0;
    last_position_.clear();
    previous_position_.clear();
    snapshots_.clear();
    vmcs_.clear();
    ending_ = false;
    rerun_ = false;
    recent_exits_.clear();
    exits_seen_ = 0;
    pending_watch_.reset();
    // Added before the engine adds any hook of its own: Unicorn runs hooks
    // in the order they were added, so this one sees each instruction
    // before an engine site hook takes its VM exit. begin > end: every address.
    uc_hook code = 0, data = 0;
    uc_hook_add(uc_, &code, UC_HOOK_CODE, reinterpret_cast<void*>(&Target::code_hook), this, 1, 0);
    uc_hook_add(uc_, &data, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, reinterpret_cast<void*>(&Target::memory_hook),
                this, 1, 0);
}

void Target::vcpu_entering(std::uint32_t vcpu, sim::VmcsStore& vmcs)
{
    current_vcpu_ = vcpu;
    if (vcpu >= snapshots_.size()) {
        snapshots_.resize(vcpu + 1);
        vmcs_.resize(vcpu + 1, nullptr);
        last_position_.resize(vcpu + 1, 0);
        previous_position_.resize(vcpu + 1, 0);
    }
    vmcs_[vcpu] = &vmcs;
}

void Target::vcpu_left(std::uint32_t vcpu, sim::VmcsStore& vmcs, const hal::GuestRegs& regs)
{
    VcpuSnapshot& s = snapshots_.at(vcpu);
    s.valid = true;
    s.regs = regs;
    s.rip = vmcs.get(enc::RIP);
    s.rsp = vmcs.get(enc::RSP);
    s.rflags = vmcs.get(enc::RFLAGS);
    s.cr0 = vmcs.get(enc::CR0);
    s.cr3 = vmcs.get(enc::CR3);
    s.cr4 = vmcs.get(enc::CR4);
    s.efer = vmcs.get(enc::EFER);
    s.fs_base = vmcs.get(enc::FS_BASE);
    s.gs_base = vmcs.get(enc::GS_BASE);
    const std::uint32_t sels[6] = {enc::CS_SEL, enc::SS_SEL, enc::DS_SEL, enc::ES_SEL, enc::FS_SEL, enc::GS_SEL};
    for (int i = 0; i < 6; ++i) s.sel[i] = static_cast<std::uint16_t>(vmcs.get(sels[i]));
}

void Target::machine_ending()
{
    engine_ = nullptr;
    uc_ = nullptr;
}

void Target::note_exit(const sim::ExitEvent& e)
{
    exits_seen_ = e.number;
    if (recent_exits_.size() == kRecentExits) recent_exits_.erase(recent_exits_.begin());
    recent_exits_.push_back(fmt::format("exit {} vcpu={} {} qual={:#x} rip={:#x} vtime={}", e.number, e.vcpu,
                                        vmx::exit_reason_name(e.reason & 0xffff), e.qualification, e.rip,
                                        e.vtime_ns));
}

void Target::code_hook(uc_engine*, std::uint64_t address, std::uint32_t, void* self)
{
    static_cast<Target*>(self)->on_instruction(address);
}

void Target::memory_hook(uc_engine*, uc_mem_type type, std::uint64_t address, int size, std::int64_t, void* self)
{
    auto& t = *static_cast<Target*>(self);
    if (!t.watching_) return;  // the common case: no watchpoint
    t.on_access(type == UC_MEM_WRITE, address, static_cast<std::uint64_t>(size));
}

void Target::update_watching()
{
    watching_ = std::any_of(points_.begin(), points_.end(), [](const Point& p) { return p.type >= PointType::WRITE; });
}

bool Target::breakpoint_at(std::uint64_t address, StopReport::Why* why) const
{
    for (const Point& p : points_) {
        if ((p.type == PointType::SOFTWARE || p.type == PointType::HARDWARE) && p.address == address) {
            *why = p.type == PointType::SOFTWARE ? StopReport::Why::SWBREAK : StopReport::Why::HWBREAK;
            return true;
        }
    }
    return false;
}

const Target::Point* Target::watch_hit(bool write, std::uint64_t address, std::uint64_t size) const
{
    for (const Point& p : points_) {
        const bool kind = p.type == PointType::ACCESS || (write ? p.type == PointType::WRITE : p.type == PointType::READ);
        if (!kind) continue;
        for (auto [begin, length] : p.machine)
            if (address < begin + length && begin < address + size) return &p;
    }
    return nullptr;
}

void Target::on_access(bool write, std::uint64_t address, std::uint64_t size)
{
    if (ending_ || detached_) return;
    const Point* p = watch_hit(write, address, size);
    if (!p) return;
    StopReport r;
    r.vcpu = current_vcpu_;
    r.data_address = p->address;
    r.why = p->type == PointType::WRITE  ? StopReport::Why::WATCH
            : p->type == PointType::READ ? StopReport::Why::RWATCH
                                         : StopReport::Why::AWATCH;
    if (plan_ == Plan::SCAN) {
        // Going backwards the hit is the accessing instruction itself, the
        // state before it (GDB then shows the value change undone).
        if (position_ < plan_position_) {
            scan_found_ = true;
            scan_best_ = position_;
            scan_report_ = r;
        }
        return;
    }
    // Forwards, the stop comes after the access, at the next instruction
    // boundary (as x86 debug registers report data breakpoints: traps).
    if (plan_ == Plan::LIVE && !pending_watch_) pending_watch_ = r;
}

void Target::on_instruction(std::uint64_t address)
{
    ++position_;
    current_address_ = address;
    if (ending_) return;
    const std::uint32_t v = current_vcpu_;
    previous_position_[v] = last_position_[v];
    last_position_[v] = position_;
    if (detached_) return;

    switch (plan_) {
    case Plan::REPLAY_TO:
        if (position_ == plan_position_) {
            plan_ = Plan::LIVE;
            stop(plan_report_);
        }
        return;
    case Plan::SCAN: {
        if (position_ >= plan_position_) {
            // Back where GDB asked from: run again to the last hit; without
            // one, the part before this process's checkpoint is scanned next,
            // or, from the start of the run, there is none: the beginning.
            if (scan_found_) rewind_to(scan_best_, scan_report_);
            else if (depth_ > 0) scan_before(checkpoint_position_);
            else rewind_to(1, StopReport{StopReport::Why::HISTORY_BEGIN, 0, 0});
            return;
        }
        StopReport::Why why;
        if (breakpoint_at(address, &why)) {
            scan_found_ = true;
            scan_best_ = position_;
            scan_report_ = StopReport{plain_unless_flat(address, why), v, 0};
        }
        return;
    }
    case Plan::LIVE: break;
    }

    if (!first_stop_done_ && exits_seen_ >= first_stop_exit_) {
        // A held first stop waits for GDB here, not before the run (its
        // packets would go unanswered while the machine runs to the point).
        if (stop_at_first_ && first_stop_exit_ != 0 && !server_.connected()) server_.accept_blocking();
        if (stop_at_first_ || server_.connected()) {
            first_stop_done_ = true;
            stop(StopReport{StopReport::Why::INITIAL, v, 0});
            return;
        }
    }
    if (pending_watch_) {
        const StopReport r = *pending_watch_;
        pending_watch_.reset();
        stop(r);
        return;
    }
    if (stepping_ && v == step_vcpu_) {
        stop(StopReport{StopReport::Why::STEP, v, 0});
        return;
    }
    StopReport::Why why;
    if (!points_.empty() && breakpoint_at(address, &why)) {
        stop(StopReport{plain_unless_flat(address, why), v, 0});
        return;
    }
    if ((position_ & (kPollInterval - 1)) == 0) poll_client();
}

StopReport::Why Target::plain_unless_flat(std::uint64_t linear, StopReport::Why why)
{
    // GDB takes a swbreak/hwbreak stop for one of its breakpoints only when
    // the PC it reads is the breakpoint's address; with a CS base (real
    // mode: CS=0x0900 IP=0 is linear 0x9000) RIP is not, and GDB would
    // silently resume. Reported as a plain SIGTRAP it stops there.
    std::uint64_t rip = 0;
    uc_reg_read(uc_, UC_X86_REG_RIP, &rip);
    return rip == linear ? why : StopReport::Why::STEP;
}

void Target::poll_client()
{
    const std::uint32_t v = current_vcpu_;
    if (!server_.connected()) {
        if (exits_seen_ >= first_stop_exit_ && server_.accept_if_waiting()) {
            first_stop_done_ = true;
            stop(StopReport{StopReport::Why::INITIAL, v, 0});
        }
        return;
    }
    if (server_.interrupt_requested()) stop(StopReport{StopReport::Why::INTERRUPT, v, 0});
}

void Target::end_run_for_rerun()
{
    // The engine's stop request (the wall-time watchdog's, which is safe
    // from inside a hook) ends this run through the hypervisor's normal
    // returns; run_under_gdb sees rerun_requested() and runs again.
    ending_ = true;
    rerun_ = true;
    engine_->set_wall_stop_reason("gdb: the run is re-executed for reverse execution");
    engine_->request_wall_stop();
}

void Target::stop(const StopReport& first)
{
    StopReport report = first;
    for (;;) {
        if (!stop_once(report)) return;
        // A checkpoint woken to go back to exactly where it was taken.
        report = *immediate_stop_;
        immediate_stop_.reset();
    }
}

bool Target::stop_once(const StopReport& report)
{
    const Resume resume = server_.serve_stop(*this, report);
    stepping_ = false;
    switch (resume.kind) {
    case Resume::Kind::CONTINUE:
        checkpoint_if_due();
        return immediate_stop_.has_value();
    case Resume::Kind::STEP:
        stepping_ = true;
        step_vcpu_ = resume.vcpu;
        checkpoint_if_due();
        return immediate_stop_.has_value();
    case Resume::Kind::DETACH:
        detached_ = true;
        points_.clear();
        update_watching();
        return false;
    case Resume::Kind::KILL:
        killed_ = true;
        ending_ = true;
        engine_->set_wall_stop_reason("gdb killed the run");
        engine_->request_wall_stop();
        return false;
    case Resume::Kind::REVERSE_STEP: {
        // The vcpu's instruction before this one: the one before the current
        // instruction for the vcpu stopped here, its last one for another.
        const std::uint32_t w = resume.vcpu;
        const std::uint64_t target = w >= last_position_.size()          ? 0
                                     : w == current_vcpu_ ? previous_position_[w]
                                                          : last_position_[w];
        if (target == 0) rewind_to(1, StopReport{StopReport::Why::HISTORY_BEGIN, 0, 0});
        else rewind_to(target, StopReport{StopReport::Why::STEP, w, 0});
        return false;
    }
    case Resume::Kind::REVERSE_CONTINUE:
        scan_before(position_);
        return false;
    }
    return false;
}

void Target::rewind_to(std::uint64_t position, const StopReport& report)
{
    // A checkpoint's child hands the request to the checkpoints above it
    // (gdb_target_checkpoints.cpp); the process that holds the start of the
    // run re-runs the machine in-process.
    if (depth_ > 0) leave_to_checkpoint(CheckpointMessage::Kind::REWIND, position, report);
    plan_ = Plan::REPLAY_TO;
    plan_position_ = position;
    plan_report_ = report;
    end_run_for_rerun();
}

void Target::scan_before(std::uint64_t position)
{
    if (depth_ > 0) leave_to_checkpoint(CheckpointMessage::Kind::SCAN_BELOW, position, StopReport{});
    plan_ = Plan::SCAN;
    plan_position_ = position;
    scan_found_ = false;
    end_run_for_rerun();
}

std::vector<std::uint32_t> Target::vcpus() const
{
    std::vector<std::uint32_t> out;
    for (std::uint32_t v = 0; v < snapshots_.size(); ++v)
        if (v == current_vcpu_ || snapshots_[v].valid) out.push_back(v);
    return out;
}

bool Target::has_vcpu(std::uint32_t vcpu) const
{
    return vcpu < snapshots_.size() && (vcpu == current_vcpu_ || snapshots_[vcpu].valid);
}

std::optional<std::string> Target::read_registers(std::uint32_t vcpu)
{
    if (!uc_ || !has_vcpu(vcpu)) return std::nullopt;
    std::string out;
    out.reserve(340);
    if (vcpu == current_vcpu_) {
        // The live state: the hook runs with Unicorn's registers exact.
        const auto reg = [this](int id) {
            std::uint64_t v = 0;
            uc_reg_read(uc_, id, &v);
            return v;
        };
        for (int id : kGprUc) put(out, reg(id), 8);
        put(out, reg(UC_X86_REG_RIP), 8);
        put(out, reg(UC_X86_REG_EFLAGS), 4);
        for (int id : kSelectorUc) put(out, reg(id) & 0xffff, 4);
        for (int i = 0; i < 8; ++i) {
            // Unicorn gives ST(i) as GDB's i387_ext: 64-bit significand, then sign and exponent.
            std::uint8_t st[16] = {};
            uc_reg_read(uc_, UC_X86_REG_ST0 + i, st);
            out.append(reinterpret_cast<const char*>(st), 10);
        }
        put(out, reg(UC_X86_REG_FPCW) & 0xffff, 4);
        put(out, reg(UC_X86_REG_FPSW) & 0xffff, 4);
        put(out, reg(UC_X86_REG_FPTAG) & 0xffff, 4);
        put(out, 0, 4 * 5);  // fiseg fioff foseg fooff fop: not kept by the engine
        put(out, reg(UC_X86_REG_FS_BASE), 8);
        put(out, reg(UC_X86_REG_GS_BASE), 8);
        put(out, reg(UC_X86_REG_CR0), 8);
        put(out, reg(UC_X86_REG_CR2), 8);
        put(out, reg(UC_X86_REG_CR3), 8);
        put(out, reg(UC_X86_REG_CR4), 8);
        uc_x86_msr efer{0xc0000080, 0};
        uc_reg_read(uc_, UC_X86_REG_MSR, &efer);
        put(out, efer.value, 8);
        return out;
    }
    // Another vcpu: as its last slice left it (its VMCS and registers).
    const VcpuSnapshot& s = snapshots_[vcpu];
    for (int i = 0; i < 16; ++i) put(out, i == 7 ? s.rsp : s.regs.gpr[kGprEncoding[i]], 8);
    put(out, s.rip, 8);
    put(out, s.rflags, 4);
    for (std::uint16_t sel : s.sel) put(out, sel, 4);
    // The x87 state from its FXSAVE image (SDM Vol. 1 10.5.1): FCW, FSW,
    // the abridged tag byte (1: valid, 0: empty) widened to a tag word,
    // FOP, FIP/FCS, FDP/FDS, then ST0-7 in 16-byte slots.
    const std::uint8_t* fx = s.regs.fpu.bytes;
    const auto u16_at = [fx](int at) { return static_cast<std::uint64_t>(fx[at] | fx[at + 1] << 8); };
    const auto u32_at = [fx](int at) {
        return static_cast<std::uint64_t>(fx[at] | fx[at + 1] << 8 | fx[at + 2] << 16) | std::uint64_t{fx[at + 3]} << 24;
    };
    for (int i = 0; i < 8; ++i) out.append(reinterpret_cast<const char*>(fx + 32 + 16 * i), 10);
    std::uint64_t tags = 0;
    for (int i = 0; i < 8; ++i) tags |= std::uint64_t{(fx[4] >> i) & 1 ? 0u : 3u} << (2 * i);
    put(out, u16_at(0), 4);   // fctrl
    put(out, u16_at(2), 4);   // fstat
    put(out, tags, 4);        // ftag
    put(out, u16_at(12), 4);  // fiseg
    put(out, u32_at(8), 4);   // fioff
    put(out, u16_at(20), 4);  // foseg
    put(out, u32_at(16), 4);  // fooff
    put(out, u16_at(6), 4);   // fop
    put(out, s.fs_base, 8);
    put(out, s.gs_base, 8);
    put(out, s.cr0, 8);
    put(out, s.regs.cr2, 8);
    put(out, s.cr3, 8);
    put(out, s.cr4, 8);
    put(out, s.efer, 8);
    return out;
}

bool Target::write_register(std::uint32_t vcpu, int regno, const std::string& bytes)
{
    // The general registers of the vcpu at the stop: the engine reads them
    // back after every hook. RIP, flags, segments and control registers go
    // through the model's own bookkeeping (block counts, hflags), so the
    // stub does not change them.
    if (!uc_ || vcpu != current_vcpu_ || regno < 0 || regno >= 16 || bytes.size() != 8) return false;
    std::uint64_t v = 0;
    std::memcpy(&v, bytes.data(), 8);
    if (uc_reg_write(uc_, kGprUc[regno], &v) != UC_ERR_OK) return false;
    modified_ = true;
    return true;
}

std::string Target::read_memory(std::uint64_t address, std::size_t length)
{
    std::string out;
    if (!engine_ || length > kMaxMemoryAccess) return out;
    while (out.size() < length) {
        std::uint64_t machine = 0;
        const std::uint64_t at = address + out.size();
        if (!engine_->peek_translate(at, &machine)) break;
        const std::size_t chunk = std::min<std::size_t>(length - out.size(), 0x1000 - (at & 0xfff));
        if (!memory_->contains(machine, chunk)) break;
        out.append(reinterpret_cast<const char*>(memory_->data() + machine), chunk);
    }
    return out;
}

bool Target::write_memory(std::uint64_t address, const std::string& bytes)
{
    if (!engine_ || bytes.size() > kMaxMemoryAccess) return false;
    // All of it mapped first: a write is all or nothing.
    std::vector<std::pair<std::uint64_t, std::size_t>> pieces;
    for (std::size_t done = 0; done < bytes.size();) {
        std::uint64_t machine = 0;
        const std::uint64_t at = address + done;
        if (!engine_->peek_translate(at, &machine)) return false;
        const std::size_t chunk = std::min<std::size_t>(bytes.size() - done, 0x1000 - (at & 0xfff));
        if (!memory_->contains(machine, chunk)) return false;
        pieces.emplace_back(machine, chunk);
        done += chunk;
    }
    std::size_t done = 0;
    for (auto [machine, chunk] : pieces) {
        std::memcpy(memory_->data() + machine, bytes.data() + done, chunk);
        engine_->memory_written(machine, chunk);  // translated code there is stale now
        done += chunk;
    }
    modified_ = true;
    return true;
}

bool Target::insert_point(PointType type, std::uint64_t address, std::uint64_t length)
{
    for (const Point& p : points_)
        if (p.type == type && p.address == address && p.length == length) return true;
    if (points_.size() == kMaxSharedPoints) return false;  // what a checkpoint can be handed
    Point point{type, address, length, {}};
    if (type >= PointType::WRITE) {
        // Unicorn's memory hooks see machine addresses: the watched range
        // as the vcpu at the stop maps it now, page by page. (A guest that
        // maps it elsewhere later is not followed.)
        if (length == 0 || length > 4096 || !engine_) return false;
        for (std::uint64_t done = 0; done < length;) {
            std::uint64_t machine = 0;
            const std::uint64_t at = address + done;
            if (!engine_->peek_translate(at, &machine)) return false;
            const std::uint64_t chunk = std::min<std::uint64_t>(length - done, 0x1000 - (at & 0xfff));
            point.machine.emplace_back(machine, chunk);
            done += chunk;
        }
    }
    points_.push_back(std::move(point));
    update_watching();
    return true;
}

bool Target::remove_point(PointType type, std::uint64_t address, std::uint64_t length)
{
    const auto it = std::find_if(points_.begin(), points_.end(), [&](const Point& p) {
        return p.type == type && p.address == address && p.length == length;
    });
    if (it != points_.end()) points_.erase(it);
    update_watching();
    return true;  // removing what is not there is not an error (GDB may retry)
}

}  // namespace xeno::harness::gdb
