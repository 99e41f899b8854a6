// Engine::peek_translate: a debugger's look at guest-linear memory (see
// engine.hpp). The model's own walk (paging.cpp) sets accessed and dirty
// flags as the processor does, so a debugger reading through it would change
// guest (or shadow) page tables, and with them the run it only watches; the
// hypervisor's guest walker can walk without them (Access::update_ad), so
// this walks the tables the engine runs on with that walker, look-only:
// with EPT through EPT (translate_guest_physical writes nothing), without
// it the tables hold machine addresses (the guest's own under paging off in
// the walker's sense, the shadow tables under shadow paging).
#include "arch/x86/paging/guest_walk.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/engine/engine_impl.hpp"

namespace xeno::sim {

namespace {

struct PeekMemory {
    MachineMemory* memory;
    TranslationContext ctx;
};

Result<u64> peek_read(void* context, Gpa gpa, unsigned width)
{
    const PeekMemory& p = *static_cast<const PeekMemory*>(context);
    u64 machine = gpa.value();
    if (p.ctx.ept) {
        const WalkResult w = translate_guest_physical(*p.memory, p.ctx, gpa.value(), Access::READ, false, false);
        if (w.status != WalkStatus::OK) return Status::NOT_FOUND;
        machine = w.machine_page | (gpa.value() & 0xfff);
    }
    if (!p.memory->contains(machine, width)) return Status::NOT_FOUND;
    return width == 8 ? p.memory->load<u64>(machine) : p.memory->load<u32>(machine);
}

}  // namespace

bool Engine::peek_translate(u64 linear, u64* machine)
{
    Impl& m = *impl_;
    PeekMemory p{&memory_, m.translation_context()};
    paging::PagingState state;
    state.cr0 = p.ctx.cr0;
    state.cr3 = p.ctx.cr3;
    state.cr4 = p.ctx.cr4;
    state.efer = p.ctx.efer;
    state.maxphyaddr = 52;  // a look, not a check: nothing is reserved that hardware might allow
    state.pdptes_loaded = p.ctx.pdptes_valid;
    for (int i = 0; i < 4; ++i) state.pdptes[i] = p.ctx.pdptes[i];
    // A supervisor read with EFLAGS.AC set: allowed to user and supervisor
    // pages alike, SMAP included (Vol. 3A 4.6.1).
    state.cpl = 0;
    state.rflags_ac = true;
    paging::Access access;
    access.type = paging::AccessType::READ;
    access.update_ad = false;
    const paging::GuestMemory walker_memory{&p, &peek_read, nullptr};
    const paging::WalkResult w = paging::guest_walk(state, access, Gla{linear}, walker_memory);
    if (w.outcome != paging::WalkOutcome::OK) return false;
    u64 address = w.gpa.value();
    if (p.ctx.ept) {
        const WalkResult e = translate_guest_physical(memory_, p.ctx, address, Access::READ, false, false);
        if (e.status != WalkStatus::OK) return false;
        address = e.machine_page | (address & 0xfff);
    }
    if (!memory_.contains(address, 1)) return false;
    *machine = address;
    return true;
}

bool Engine::peek_guest_physical(u64 gpa, u64* machine)
{
    const TranslationContext ctx = impl_->translation_context();
    if (!ctx.ept) return false;
    const WalkResult w = translate_guest_physical(memory_, ctx, gpa, Access::READ, false, false);
    if (w.status != WalkStatus::OK) return false;
    const u64 address = w.machine_page | (gpa & 0xfff);
    if (!memory_.contains(address, 1)) return false;
    *machine = address;
    return true;
}

}  // namespace xeno::sim
