// Finding the live register file of a Unicorn engine (see uc_internals.hpp,
// uc_find_live_regs). Memory is probed only through process_vm_readv on this
// process, which fails cleanly on unmapped addresses: a wrong candidate can
// never crash the search. Nothing here assumes Unicorn's struct layouts; a
// result is used only after it matched a uc_context_save byte for byte.
#include "sim/vmx-model/engine/uc_internals.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace xeno::sim {
namespace {

constexpr int kGprIds[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                             UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                             UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                             UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};

constexpr std::size_t kStructSpan = 16 * 1024;   // bytes of the uc_struct scanned for pointers
constexpr std::size_t kObjectSpan = 128 * 1024;  // bytes after each pointer searched for regs[0]

// Copies up to len bytes at addr (this process); returns the bytes copied
// (0 when addr is not mapped).
std::size_t probe(std::uintptr_t addr, void* out, std::size_t len)
{
    iovec local{out, len};
    iovec remote{reinterpret_cast<void*>(addr), len};
    const ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

// The cached result of the last successful search: where in the uc_struct the
// pointer was and how far from it regs[0] lay (the same for every engine of
// one Unicorn build, so later engines are found with one probe).
struct Hint {
    bool valid = false;
    std::size_t word = 0;
    std::ptrdiff_t delta = 0;
};
thread_local Hint g_hint;  // per thread: engines may be created on several threads

bool verify(uc_engine* uc, const UcLayout& layout, const std::uint8_t* live)
{
    // Everything from regs[0] to the end of cr[5] is one contiguous copy in
    // the context: the live bytes must equal it exactly.
    const std::size_t end = std::max({layout.cr + 5 * 8, layout.efer + 8, layout.eip + 16});
    if (end > layout.context_size || layout.regs >= end) return false;
    uc_context* ctx = nullptr;
    if (uc_context_alloc(uc, &ctx) != UC_ERR_OK) return false;
    bool ok = uc_context_save(uc, ctx) == UC_ERR_OK;
    if (ok) {
        std::vector<std::uint8_t> copy(end - layout.regs);
        ok = probe(reinterpret_cast<std::uintptr_t>(live), copy.data(), copy.size()) == copy.size() &&
             std::memcmp(copy.data(), reinterpret_cast<const std::uint8_t*>(ctx) + layout.regs, copy.size()) == 0;
    }
    uc_context_free(ctx);
    return ok;
}

// A candidate is accepted when it equals a context save and follows a write
// through the API (a stale copy of the registers elsewhere does neither).
bool accept(uc_engine* uc, const UcLayout& layout, const std::uint8_t* live, const std::uint64_t (&sig)[16])
{
    if (!verify(uc, layout, live)) return false;
    const std::uint64_t probe_value = ~sig[0];
    uc_reg_write(uc, UC_X86_REG_RAX, &probe_value);
    std::uint64_t got = 0;
    const bool follows = probe(reinterpret_cast<std::uintptr_t>(live), &got, 8) == 8 && got == probe_value;
    uc_reg_write(uc, UC_X86_REG_RAX, &sig[0]);
    return follows;
}

const std::uint8_t* search(uc_engine* uc, const UcLayout& layout, const std::uint64_t (&sig)[16])
{
    std::vector<std::uint8_t> st(kStructSpan);
    const std::size_t st_len = probe(reinterpret_cast<std::uintptr_t>(uc), st.data(), st.size()) & ~std::size_t{7};
    auto try_at = [&](std::uintptr_t at) {
        std::uint64_t got[16];
        return probe(at, got, sizeof got) == sizeof got && std::memcmp(got, sig, sizeof got) == 0 &&
               accept(uc, layout, reinterpret_cast<const std::uint8_t*>(at), sig);
    };
    if (g_hint.valid && g_hint.word + 8 <= st_len) {
        std::uintptr_t w;
        std::memcpy(&w, st.data() + g_hint.word, 8);
        const std::uintptr_t at = w + static_cast<std::uintptr_t>(g_hint.delta);
        if (try_at(at)) return reinterpret_cast<const std::uint8_t*>(at);
    }
    std::vector<std::uint8_t> obj(kObjectSpan);
    for (std::size_t i = 0; i < st_len; i += 8) {
        std::uintptr_t w;
        std::memcpy(&w, st.data() + i, 8);
        if (w < 0x10000 || (w & 7)) continue;
        const std::size_t n = probe(w, obj.data(), obj.size()) & ~std::size_t{7};
        for (std::size_t j = 0; j + sizeof sig <= n; j += 8) {
            if (std::memcmp(obj.data() + j, sig, sizeof sig) != 0) continue;
            if (!try_at(w + j)) continue;
            g_hint = Hint{true, i, static_cast<std::ptrdiff_t>(j)};
            return reinterpret_cast<const std::uint8_t*>(w + j);
        }
    }
    return nullptr;
}

}  // namespace

const std::uint8_t* uc_find_live_regs(uc_engine* uc, const UcLayout& layout)
{
    std::uint64_t saved[16];
    void* ptrs[16];
    int ids[16];
    for (int i = 0; i < 16; ++i) {
        ids[i] = kGprIds[i];
        ptrs[i] = &saved[i];
    }
    if (uc_reg_read_batch(uc, ids, ptrs, 16) != UC_ERR_OK) return nullptr;
    // A signature no other memory holds by chance: distinct, address-salted.
    std::uint64_t sig[16];
    const auto salt = reinterpret_cast<std::uintptr_t>(&sig);
    for (int i = 0; i < 16; ++i) {
        sig[i] = 0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(i + 1) ^ salt;
        uc_reg_write(uc, kGprIds[i], &sig[i]);
    }
    const std::uint8_t* live = search(uc, layout, sig);
    for (int i = 0; i < 16; ++i) uc_reg_write(uc, kGprIds[i], &saved[i]);
    return live;
}

}  // namespace xeno::sim
