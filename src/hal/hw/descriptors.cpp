// The hypervisor's own GDT (with a 64-bit TSS: VM exits need a non-null host
// TR, SDM Vol. 3C 26.2.3; one GDT and TSS per CPU, since LTR marks the TSS
// descriptor busy and each CPU needs its own IST stack) and IDT (shared) (exception vectors 0-31 -> isr.S), and the
// exception handler: a register dump on COM1, then the machine stops.
#include "hal/cpu.hpp"
#include "hal/hw/hw.hpp"
#include "hal/hw/layout.h"
#include "lib/format.hpp"

namespace xeno::hw {
namespace {

// 64-bit TSS (SDM Vol. 3A, 9.7 "Task Management in 64-bit Mode").
struct [[gnu::packed]] Tss {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
};
static_assert(sizeof(Tss) == 104);

struct [[gnu::packed]] IdtGate {
    u16 offset_low;
    u16 selector;
    u8 ist;
    u8 type_attr;
    u16 offset_mid;
    u32 offset_high;
    u32 reserved;
};
static_assert(sizeof(IdtGate) == 16);

struct [[gnu::packed]] TableRegister {
    u16 limit;
    u64 base;
};

constexpr usize kIstStackSize = 16 * 1024;
alignas(16) u8 g_ist_stack[HW_MAX_CPUS][kIstStackSize];  // #DF, NMI, #MC: a known-good stack
Tss g_tss[HW_MAX_CPUS];
alignas(16) u64 g_gdt[HW_MAX_CPUS][5];
alignas(16) IdtGate g_idt[256];

}  // namespace
}  // namespace xeno::hw

extern "C" const xeno::u64 hw_isr_table[32];
extern "C" void hw_irq_240();
extern "C" void hw_irq_241();
extern "C" void hw_irq_255();

namespace xeno::hw {
namespace {

void build_idt()
{
    auto gate = [](unsigned v, u64 handler, u8 ist) {
        IdtGate& g = g_idt[v];
        g.offset_low = static_cast<u16>(handler);
        g.selector = SEL_KERNEL_CS;
        g.ist = ist;
        g.type_attr = 0x8e;  // present, DPL 0, interrupt gate
        g.offset_mid = static_cast<u16>(handler >> 16);
        g.offset_high = static_cast<u32>(handler >> 32);
        g.reserved = 0;
    };
    for (unsigned v = 0; v < 32; ++v) gate(v, hw_isr_table[v], (v == 2 || v == 8 || v == 18) ? 1 : 0);  // NMI, #DF, #MC on IST1
    // Host interrupts (host_timer.cpp): the timer and the local APIC's
    // spurious vector. The other vectors stay not present: the hypervisor
    // programs no other source, and one would be a bug worth a #GP dump.
    gate(0xf0, reinterpret_cast<u64>(&hw_irq_240), 0);
    gate(0xf1, reinterpret_cast<u64>(&hw_irq_241), 0);  // another CPU's kick (smp.cpp)
    gate(0xff, reinterpret_cast<u64>(&hw_irq_255), 0);
}

}  // namespace

void descriptors_init(u32 cpu)
{
    if (cpu == 0) build_idt();
    Tss& tss = g_tss[cpu];
    u64* gdt = g_gdt[cpu];
    tss.iomap_base = sizeof(Tss);  // no I/O bitmap
    tss.ist[0] = reinterpret_cast<u64>(g_ist_stack[cpu] + kIstStackSize);

    const u64 base = reinterpret_cast<u64>(&tss);
    const u64 limit = sizeof(Tss) - 1;
    gdt[0] = 0;
    gdt[SEL_KERNEL_CS >> 3] = 0x00af9a000000ffff;  // 64-bit code, DPL 0
    gdt[SEL_KERNEL_DS >> 3] = 0x00cf92000000ffff;  // data, DPL 0
    // Available 64-bit TSS, present (SDM Vol. 3A, 8.2.3).
    gdt[SEL_TSS >> 3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                        (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[(SEL_TSS >> 3) + 1] = base >> 32;

    const TableRegister gdtr{sizeof(g_gdt[cpu]) - 1, reinterpret_cast<u64>(gdt)};
    const TableRegister idtr{sizeof(g_idt) - 1, reinterpret_cast<u64>(g_idt)};
    asm volatile(
        "lgdt %[gdtr]\n\t"
        "pushq %[cs]\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\n\t"
        "mov %[ds], %%ds\n\t"
        "mov %[ds], %%es\n\t"
        "mov %[ds], %%ss\n\t"
        "mov %[null], %%fs\n\t"
        "mov %[null], %%gs\n\t"
        "ltr %[tr]\n\t"
        "lidt %[idtr]"
        :
        : [gdtr] "m"(gdtr), [idtr] "m"(idtr), [cs] "i"(SEL_KERNEL_CS), [ds] "r"(u32{SEL_KERNEL_DS}),
          [null] "r"(u32{0}), [tr] "r"(u16{SEL_TSS})
        : "rax", "memory");
}

}  // namespace xeno::hw

namespace {

// What isr.S leaves on the stack, lowest address first.
struct ExceptionFrame {
    xeno::u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    xeno::u64 vector, error;
    xeno::u64 rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

const char* const kExceptionNames[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "22", "23", "24", "25", "26", "27", "28", "29", "#SX", "31"};

void reg(xeno::Writer& w, const char* name, xeno::u64 value)
{
    w.str(" ").str(name).str("=").hex_digits(value, 16);
}

}  // namespace

extern "C" [[noreturn]] void hw_exception(const ExceptionFrame* f)
{
    using namespace xeno;
    // A fault while dumping (say, a stack dump from a wild RSP) must not recurse.
    static bool dumping = false;
    if (dumping) {
        hw::log_str_unlocked("\nxeno: EXCEPTION while printing an exception\nxeno: exit status -1\n");
        hw::power_off();
    }
    dumping = true;
    u64 cr2;
    asm volatile("mov %%cr2, %0" : "=r"(cr2));
    FixedWriter<160> w;
    w.str("\nxeno: EXCEPTION ").str(kExceptionNames[f->vector & 31]).str(" vector=").dec(f->vector)
        .str(" error=").hex(f->error).str("\n");
    hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "rip", f->rip); reg(w, "cs", f->cs); reg(w, "rflags", f->rflags); w.str("\n"); hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "rsp", f->rsp); reg(w, "ss", f->ss); reg(w, "cr2", cr2); w.str("\n"); hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "cr0", hal::read_cr0()); reg(w, "cr3", hal::read_cr3()); reg(w, "cr4", hal::read_cr4()); w.str("\n"); hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "rax", f->rax); reg(w, "rbx", f->rbx); reg(w, "rcx", f->rcx); w.str("\n"); hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "rdx", f->rdx); reg(w, "rsi", f->rsi); reg(w, "rdi", f->rdi); w.str("\n"); hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "rbp", f->rbp); reg(w, "r8 ", f->r8); reg(w, "r9 ", f->r9); w.str("\n"); hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "r10", f->r10); reg(w, "r11", f->r11); reg(w, "r12", f->r12); w.str("\n"); hw::log_str_unlocked(w.c_str());
    w.clear(); reg(w, "r13", f->r13); reg(w, "r14", f->r14); reg(w, "r15", f->r15); w.str("\n"); hw::log_str_unlocked(w.c_str());
    // A short stack dump: the return addresses are usually in it.
    const u64* stack = reinterpret_cast<const u64*>(f->rsp);
    if (f->rsp >= KERNEL_VMA) {
        for (int i = 0; i < 8; i += 2) {
            w.clear(); w.str(" stack+").dec(static_cast<u64>(i) * 8).str(": ").hex_digits(stack[i], 16).str(" ")
                .hex_digits(stack[i + 1], 16).str("\n");
            hw::log_str_unlocked(w.c_str());
        }
    }
    hw::log_str_unlocked("xeno: exit status -1\n");
    hw::power_off();
}
