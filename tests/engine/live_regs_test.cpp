// The engine's live register file (uc_find_live_regs): found on Unicorn
// 2.1.4, and every register the exit paths load from it equals what the
// public API returns, before and after guest code ran.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "sim/vmx-model/engine/uc_internals.hpp"

namespace xeno::sim::test {

namespace {

constexpr int kGprIds[16] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
                             UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
                             UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
                             UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};

std::uint64_t api(uc_engine* uc, int id)
{
    std::uint64_t v = 0;
    REQUIRE(uc_reg_read(uc, id, &v) == UC_ERR_OK);
    return v;
}

std::uint64_t at(const std::uint8_t* p, std::size_t off)
{
    std::uint64_t v;
    std::memcpy(&v, p + off, sizeof v);
    return v;
}

void check_all(uc_engine* uc, const UcLayout& l, const std::uint8_t* live)
{
    for (std::size_t i = 0; i < 16; ++i) CHECK(at(live, 8 * i) == api(uc, kGprIds[i]));
    CHECK(at(live, l.eip - l.regs) == api(uc, UC_X86_REG_RIP));
    CHECK(at(live, l.cr - l.regs) == api(uc, UC_X86_REG_CR0));
    CHECK(at(live, l.cr - l.regs + 16) == api(uc, UC_X86_REG_CR2));
    CHECK(at(live, l.cr - l.regs + 24) == api(uc, UC_X86_REG_CR3));
    CHECK(at(live, l.cr - l.regs + 32) == api(uc, UC_X86_REG_CR4));
    std::uint32_t cs;
    std::memcpy(&cs, live + (l.segs + 24 - l.regs), sizeof cs);
    CHECK((cs & 0xffff) == (api(uc, UC_X86_REG_CS) & 0xffff));
}

}  // namespace

TEST_CASE("live registers: found, equal to the API, and follow guest code", "[engine][live-regs]")
{
    const UcLayout& l = uc_layout();
    uc_engine* uc = nullptr;
    REQUIRE(uc_open(UC_ARCH_X86, UC_MODE_64, &uc) == UC_ERR_OK);
    std::vector<std::uint8_t> mem(0x3000);
    auto aligned = (reinterpret_cast<std::uintptr_t>(mem.data()) + 0xfff) & ~std::uintptr_t{0xfff};
    REQUIRE(uc_mem_map_ptr(uc, 0, 0x1000, UC_PROT_ALL, reinterpret_cast<void*>(aligned)) == UC_ERR_OK);

    for (std::size_t i = 0; i < 16; ++i) {
        std::uint64_t v = 0x1111111111111111ull * (i + 1);
        uc_reg_write(uc, kGprIds[i], &v);
    }
    const std::uint8_t* live = uc_find_live_regs(uc, l);
    REQUIRE(live != nullptr);
    // The search leaves the registers as they were.
    CHECK(api(uc, UC_X86_REG_RAX) == 0x1111111111111111ull);
    CHECK(api(uc, UC_X86_REG_R15) == 0x1111111111111111ull * 16);
    check_all(uc, l, live);

    std::uint64_t cr2 = 0xdeadb000, rip = 0x123;
    uc_reg_write(uc, UC_X86_REG_CR2, &cr2);
    uc_reg_write(uc, UC_X86_REG_RIP, &rip);
    check_all(uc, l, live);

    // mov rax, 0x42; add rbx, rax; inc r9
    const std::uint8_t code[] = {0x48, 0xc7, 0xc0, 0x42, 0, 0, 0, 0x48, 0x01, 0xc3, 0x49, 0xff, 0xc1};
    std::memcpy(reinterpret_cast<void*>(aligned + 0x100), code, sizeof code);
    REQUIRE(uc_emu_start(uc, 0x100, 0x100 + sizeof code, 0, 0) == UC_ERR_OK);
    CHECK(at(live, 0) == 0x42);
    CHECK(at(live, 8 * 9) == 0x1111111111111111ull * 10 + 1);
    CHECK(at(live, l.eip - l.regs) == 0x100 + sizeof code);
    check_all(uc, l, live);

    // A second engine is found too (through the cached hint), at its own address.
    uc_engine* uc2 = nullptr;
    REQUIRE(uc_open(UC_ARCH_X86, UC_MODE_64, &uc2) == UC_ERR_OK);
    const std::uint8_t* live2 = uc_find_live_regs(uc2, l);
    REQUIRE(live2 != nullptr);
    CHECK(live2 != live);
    check_all(uc2, l, live2);
    uc_close(uc2);
    uc_close(uc);
}

}  // namespace xeno::sim::test
