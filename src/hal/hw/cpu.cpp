// The host CPU through inline assembly (hal/cpu.hpp).
#include "hal/cpu.hpp"
#include "hal/hw/hw.hpp"

namespace xeno::hal {

CpuidResult cpuid(u32 leaf, u32 subleaf)
{
    CpuidResult r;
    asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (u64{hi} << 32) | lo;
}

void wrmsr(u32 msr, u64 value)
{
    asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<u32>(value)), "d"(static_cast<u32>(value >> 32)) : "memory");
}

u64 read_cr0()
{
    u64 v;
    asm volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}
u64 read_cr3()
{
    u64 v;
    asm volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}
u64 read_cr4()
{
    u64 v;
    asm volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}
void write_cr0(u64 value) { asm volatile("mov %0, %%cr0" : : "r"(value) : "memory"); }
void write_cr4(u64 value) { asm volatile("mov %0, %%cr4" : : "r"(value) : "memory"); }

namespace {

struct [[gnu::packed]] DescriptorTableRegister {
    u16 limit;
    u64 base;
};

// Base of the descriptor at selector in the GDT at gdt_base; system
// descriptors (TSS) are 16 bytes with base bits 63:32 in the second quadword
// (SDM Vol. 3A, 8.2.3 "TSS Descriptor in 64-bit mode").
u64 descriptor_base(u64 gdt_base, u16 selector, bool system)
{
    const u64* gdt = reinterpret_cast<const u64*>(gdt_base);
    const u64 lo = gdt[selector >> 3];
    u64 base = ((lo >> 16) & 0xffffff) | (((lo >> 56) & 0xff) << 24);
    if (system) base |= (gdt[(selector >> 3) + 1] & 0xffffffff) << 32;
    return base;
}

}  // namespace

HostSegments host_segments()
{
    HostSegments s{};
    asm volatile("mov %%cs, %0" : "=r"(s.cs));
    asm volatile("mov %%ss, %0" : "=r"(s.ss));
    asm volatile("mov %%ds, %0" : "=r"(s.ds));
    asm volatile("mov %%es, %0" : "=r"(s.es));
    asm volatile("mov %%fs, %0" : "=r"(s.fs));
    asm volatile("mov %%gs, %0" : "=r"(s.gs));
    asm volatile("str %0" : "=r"(s.tr));
    DescriptorTableRegister gdtr{}, idtr{};
    asm volatile("sgdt %0" : "=m"(gdtr));
    asm volatile("sidt %0" : "=m"(idtr));
    s.gdtr_base = gdtr.base;
    s.idtr_base = idtr.base;
    s.fs_base = rdmsr(0xc0000100);  // IA32_FS_BASE
    s.gs_base = rdmsr(0xc0000101);  // IA32_GS_BASE
    s.tr_base = s.tr ? descriptor_base(gdtr.base, s.tr, true) : 0;
    return s;
}

u8 inb(u16 port) { return hw::in8(port); }
void outb(u16 port, u8 value) { hw::out8(port, value); }

}  // namespace xeno::hal
