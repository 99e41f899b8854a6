#include "bare_unicorn.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <unicorn/unicorn.h>

namespace xeno::bench {

namespace {

constexpr std::uint64_t kGdt = 0x1000;
constexpr std::uint64_t kStub = 0x2000;
constexpr std::uint64_t kStack = 0x7000;
constexpr std::uint16_t kCode32 = 0x10;

// Flat descriptors (SDM Vol. 3A, 3.4.5): null, 64-bit code (L=1), 32-bit code, data.
constexpr std::uint64_t kDescriptors[] = {0, 0x00209a0000000000, 0x00cf9a000000ffff, 0x00cf92000000ffff};

void check(uc_err err, const char* what)
{
    if (err != UC_ERR_OK) {
        std::fprintf(stderr, "xeno-bench: bare unicorn: %s: %s\n", what, uc_strerror(err));
        std::exit(1);
    }
}

void count_hook(uc_engine*, std::uint64_t, std::uint32_t, void* user)
{
    ++*static_cast<std::uint64_t*>(user);
}

// Runs from `start` to the kernel's end, timing uc_emu_start alone, and
// closes the engine.
BareRun run_until_kernel_end(uc_engine* uc, const BenchGuest& guest, std::uint64_t start, bool count_instructions)
{
    BareRun run;
    uc_hook hook{};
    if (count_instructions) {
        check(uc_hook_add(uc, &hook, UC_HOOK_CODE, reinterpret_cast<void*>(&count_hook), &run.instructions,
                          guest.kernel, guest.kernel_end - 1),
              "code hook");
    }
    auto begin = std::chrono::steady_clock::now();
    check(uc_emu_start(uc, start, guest.kernel_end, 0, 0), "uc_emu_start");
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();

    // The 32-bit register names, which engines of every mode answer.
    std::uint64_t rip = 0;
    std::uint64_t rax = 0;
    std::uint64_t rdx = 0;
    uc_reg_read(uc, UC_X86_REG_EIP, &rip);
    uc_reg_read(uc, UC_X86_REG_EAX, &rax);
    uc_reg_read(uc, UC_X86_REG_EDX, &rdx);
    if (rip != guest.kernel_end) {
        std::fprintf(stderr, "xeno-bench: bare unicorn stopped at %#llx, not at the kernel's end %#x\n",
                     static_cast<unsigned long long>(rip), guest.kernel_end);
        std::exit(1);
    }
    run.eax = static_cast<std::uint32_t>(rax);
    run.edx = static_cast<std::uint32_t>(rdx);
    uc_close(uc);
    return run;
}

}  // namespace

BareRun run_bare_unicorn(const BenchGuest& guest, bool count_instructions)
{
    uc_engine* uc = nullptr;
    check(uc_open(UC_ARCH_X86, UC_MODE_64, &uc), "uc_open");
    check(uc_mem_map(uc, 0, kGuestMemoryMb << 20, UC_PROT_ALL), "uc_mem_map");
    check(uc_mem_write(uc, kLoadAddress, guest.image.data(), guest.image.size()), "load the image");
    check(uc_mem_write(uc, kGdt, kDescriptors, sizeof kDescriptors), "write the GDT");
    uc_x86_mmr gdtr{0, kGdt, sizeof kDescriptors - 1, 0};
    check(uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr), "GDTR");

    // push kCode32; push kernel; retfq  -- into compatibility mode at the kernel.
    const std::uint8_t stub[] = {0x6a, static_cast<std::uint8_t>(kCode32),
                                 0x68, static_cast<std::uint8_t>(guest.kernel), static_cast<std::uint8_t>(guest.kernel >> 8),
                                 static_cast<std::uint8_t>(guest.kernel >> 16), static_cast<std::uint8_t>(guest.kernel >> 24),
                                 0x48, 0xcb};
    check(uc_mem_write(uc, kStub, stub, sizeof stub), "write the stub");
    std::uint64_t rsp = kStack;
    check(uc_reg_write(uc, UC_X86_REG_RSP, &rsp), "RSP");

    return run_until_kernel_end(uc, guest, kStub, count_instructions);
}

BareRun run_bare_unicorn_real16(const BenchGuest& guest, bool count_instructions)
{
    uc_engine* uc = nullptr;
    check(uc_open(UC_ARCH_X86, UC_MODE_16, &uc), "uc_open");
    check(uc_mem_map(uc, 0, kGuestMemoryMb << 20, UC_PROT_ALL), "uc_mem_map");
    check(uc_mem_write(uc, kLoadAddress, guest.image.data(), guest.image.size()), "load the image");
    std::uint64_t zero = 0;
    std::uint64_t sp = kStack;
    check(uc_reg_write(uc, UC_X86_REG_CS, &zero), "CS");
    check(uc_reg_write(uc, UC_X86_REG_SS, &zero), "SS");
    check(uc_reg_write(uc, UC_X86_REG_SP, &sp), "SP");
    // With CS=0 the kernel's offsets are its linear addresses.
    return run_until_kernel_end(uc, guest, guest.kernel, count_instructions);
}

}  // namespace xeno::bench
