// Guest-linear memory for event delivery and task-switch checks, through the
// model's page walk: a failed walk is left in Impl::walk for the caller's
// exit, written bytes drop the translated code they cover.
#pragma once

#include <cstring>

#include "sim/vmx-model/engine/engine_impl.hpp"
#include "sim/vmx-model/event_delivery.hpp"

namespace xeno::sim {

class LinearMemory final : public DeliveryMemory {
public:
    explicit LinearMemory(Engine::Impl& m) : m_(m), ctx_(m.translation_context()) {}

    MemResult read(u64 linear, void* out, usize size, bool supervisor) override
    {
        return access(linear, out, size, supervisor, false);
    }
    MemResult write(u64 linear, const void* in, usize size, bool supervisor) override
    {
        return access(linear, const_cast<void*>(in), size, supervisor, true);
    }
    // The read of a locked read-modify-write (CMPXCHG8B/16B): the access is
    // checked as a write before anything is read, so a fault is the write's
    // (#PF with W set, a write EPT violation) and the dirty bit is set.
    MemResult read_for_write(u64 linear, void* out, usize size)
    {
        return access(linear, out, size, false, true, false);
    }

private:
    MemResult access(u64 va, void* buf, usize size, bool supervisor, bool is_write, bool store = true)
    {
        TranslationContext c = ctx_;
        if (supervisor) c.user = false;
        auto* p = static_cast<u8*>(buf);
        while (size) {
            WalkResult w = translate_linear(m_.memory, c, va, is_write ? Access::WRITE : Access::READ);
            if (w.status != WalkStatus::OK) {
                m_.walk = w;
                m_.walk_va = va;
                if (w.status == WalkStatus::PAGE_FAULT) return MemResult{MemFault::PAGE_FAULT, w.pf_error, va};
                if (w.status == WalkStatus::EPT_VIOLATION) return MemResult{MemFault::EPT_VIOLATION, 0, w.gpa};
                return MemResult{MemFault::OUTSIDE, 0, w.gpa};
            }
            const usize chunk = 0x1000 - (va & 0xfff) < size ? 0x1000 - (va & 0xfff) : size;
            u8* host = m_.memory.data() + w.machine_page + (va & 0xfff);
            if (is_write && store) {
                std::memcpy(host, p, chunk);
                m_.invalidate_code_at_linear(va, chunk, w.machine_page + (va & 0xfff));
            } else {
                std::memcpy(p, host, chunk);
            }
            p += chunk;
            va += chunk;
            size -= chunk;
        }
        return MemResult{};
    }

    Engine::Impl& m_;
    TranslationContext ctx_;
};

}  // namespace xeno::sim
