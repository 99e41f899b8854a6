// Xen's public ABI (src/public): the sizes and offsets are static_asserts in
// the headers; these check the encodings and helpers a static_assert does not
// exercise, against the byte patterns a Xen guest produces.
// The headers under test come first, so a missing include shows.
#include "public/console.hpp"
#include "public/event_channel.hpp"
#include "public/grant_table.hpp"
#include "public/hvm.hpp"
#include "public/memory.hpp"
#include "public/sched.hpp"
#include "public/vcpu.hpp"
#include "public/version.hpp"
#include "public/xen.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

using namespace xeno;
using namespace xeno::xen;

TEST_CASE("public: console ring indices mask into the array and survive wrap", "[public]")
{
    xencons_interface ring{};
    const usize in_size = sizeof ring.in;
    const usize out_size = sizeof ring.out;
    CHECK(mask_xencons_idx(0, out_size) == 0);
    CHECK(mask_xencons_idx(2047, out_size) == 2047);
    CHECK(mask_xencons_idx(2048, out_size) == 0);
    CHECK(mask_xencons_idx(3000, out_size) == 952);
    CHECK(mask_xencons_idx(3000, in_size) == 952);
    CHECK(mask_xencons_idx(0xffffffffu, in_size) == 1023);

    // Producer wrapped past 2^32, consumer not yet: 4 bytes queued.
    const XENCONS_RING_IDX cons = 0xfffffffeu;
    const XENCONS_RING_IDX prod = 2;
    CHECK(xencons_queued(prod, cons) == 4);
    CHECK(xencons_space(prod, cons, out_size) == 2044);
    CHECK(xencons_space(5, 5, in_size) == 1024);

    // A guest writing "hi" at out_prod 2047 puts 'h' in the last slot, 'i' in slot 0.
    ring.out_prod = 2047;
    for (char c : std::string("hi"))
        ring.out[mask_xencons_idx(ring.out_prod++, out_size)] = c;
    CHECK(ring.out[2047] == 'h');
    CHECK(ring.out[0] == 'i');
    CHECK(ring.out_prod == 2049);
}

TEST_CASE("public: HVM_PARAM_CALLBACK_IRQ encodings", "[public]")
{
    // What Linux writes for its vector callback (HYPERVISOR_CALLBACK_VECTOR 0xf3).
    const u64 vec = callback_via_vector(0xf3);
    CHECK(vec == 0x02000000000000f3);
    CHECK(callback_via_type(vec) == hvm_param_callback_type::VECTOR);
    CHECK(callback_via_vector_of(vec) == 0xf3);
    CHECK((vec & HVM_PARAM_CALLBACK_IRQ_TYPE_MASK) == u64{2} << 56);

    const u64 gsi = callback_via_gsi(28);
    CHECK(gsi == 28);
    CHECK(callback_via_type(gsi) == hvm_param_callback_type::GSI);
    CHECK(callback_via_payload(gsi) == 28);

    // Segment 0, bus 0, device 3 function 0, INTA# (pin 0).
    const u64 intx = callback_via_pci_intx(0, 0, 3 << 3, 0);
    CHECK(intx == 0x0100000000001800);
    CHECK(callback_via_type(intx) == hvm_param_callback_type::PCI_INTX);
    const u64 other = callback_via_pci_intx(0x1234, 0x56, 0x78, 7);  // INTx keeps its 2 bits
    CHECK(other == 0x0100123400567803);
    CHECK(callback_via_pci_segment(other) == 0x1234);
    CHECK(callback_via_pci_bus(other) == 0x56);
    CHECK(callback_via_pci_devfn(other) == 0x78);
    CHECK(callback_via_pci_intx_pin(other) == 3);
    CHECK(callback_via_payload(other) == 0x0000123400567803);
}

TEST_CASE("public: XENMEMF_ node and address-bits encoding", "[public]")
{
    CHECK(xenmemf::node(0) == 0x100);
    CHECK(xenmemf::get_node(xenmemf::node(5)) == 5);
    CHECK(xenmemf::get_node(0) == 0xff);  // no node requested reads as 0xff (NUMA_NO_NODE)
    CHECK(xenmemf::exact_node(2) == (0x300 | 1u << 17));
    const u32 flags = xenmemf::address_bits(32) | xenmemf::node(1) | xenmemf::populate_on_demand;
    CHECK(xenmemf::get_address_bits(flags) == 32);
    CHECK(xenmemf::get_node(flags) == 1);
    CHECK((flags & xenmemf::populate_on_demand) != 0);
}

TEST_CASE("public: XENMEM_memory_map records are 20 bytes apart", "[public]")
{
    const e820entry map[2] = {{0x0, 0x9fc00, 1}, {0x100000, 0x3ff00000, 1}};
    u8 bytes[sizeof map];
    std::memcpy(bytes, map, sizeof map);
    u64 addr = 0;
    u32 type = 0;
    std::memcpy(&addr, bytes + 20, 8);
    std::memcpy(&type, bytes + 20 + 16, 4);
    CHECK(sizeof bytes == 40);
    CHECK(addr == 0x100000);
    CHECK(type == 1);
}

TEST_CASE("public: the hypervisor CPUID signature spells XenVMMXenVMM", "[public]")
{
    const u32 regs[3] = {cpuid::SIGNATURE_EBX, cpuid::SIGNATURE_ECX, cpuid::SIGNATURE_EDX};
    char text[13] = {};
    std::memcpy(text, regs, 12);
    CHECK(std::string(text) == "XenVMMXenVMM");
    CHECK(cpuid::LEAF(cpuid::LEAF_HVM) == 0x40000004);
    CHECK(xen_version_value(4, 19) == 0x00040013);
}

TEST_CASE("public: a 2-level event port is a bit of shared_info and a selector bit", "[public]")
{
    // Port 70: word 1, bit 6 of evtchn_pending; selector bit 1 in vcpu_info.
    static shared_info page{};
    const u32 port = 70;
    const u32 bits_per_word = sizeof(xen_ulong_t) * 8;
    page.evtchn_pending[port / bits_per_word] |= u64{1} << (port % bits_per_word);
    page.vcpu_info[0].evtchn_pending_sel |= u64{1} << (port / bits_per_word);
    page.vcpu_info[0].evtchn_upcall_pending = 1;

    u8 raw[sizeof(shared_info)];
    std::memcpy(raw, &page, sizeof raw);
    CHECK(raw[2048 + 8] == 0x40);  // byte 8 of evtchn_pending holds bits 64..71
    CHECK(raw[8] == 0x02);         // vcpu 0's evtchn_pending_sel
    CHECK(raw[0] == 1);            // vcpu 0's evtchn_upcall_pending
    CHECK(port < EVTCHN_2L_NR_CHANNELS);
}

TEST_CASE("public: grant entry v1 flags and runstate update bit", "[public]")
{
    const grant_entry_v1 entry{static_cast<u16>(gtf::permit_access | gtf::readonly), 0, 0x1234};
    u8 raw[sizeof entry];
    std::memcpy(raw, &entry, sizeof raw);
    CHECK(raw[0] == 0x05);
    CHECK((entry.flags & gtf::type_mask) == gtf::permit_access);
    CHECK(gntmap::guest_avail_mask == 0xffff0000u);

    vcpu_runstate_info info{};
    info.state_entry_time = 123456789 | XEN_RUNSTATE_UPDATE;
    CHECK((info.state_entry_time & ~XEN_RUNSTATE_UPDATE) == 123456789);
    CHECK(info.state_entry_time >> 63 == 1);
}
