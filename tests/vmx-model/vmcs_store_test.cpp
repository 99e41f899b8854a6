#include "sim/vmx-model/vmcs_store.hpp"

#include <catch2/catch.hpp>

#include "vmx_fixture.hpp"

using namespace xeno;
using namespace xeno::sim;
using namespace xeno::vmx;

TEST_CASE("VMCS store: field widths truncate raw writes", "[vmcs-store]")
{
    MachineMemory memory(1 << 20);
    VmcsStore vmcs(memory, Hpa{0x3000});
    vmcs.set(field::GUEST_CS_SELECTOR.kEncoding, 0x123456789abcdef0);
    CHECK(vmcs.get(field::GUEST_CS_SELECTOR.kEncoding) == 0xdef0);
    vmcs.set(field::GUEST_CS_LIMIT.kEncoding, 0x123456789abcdef0);
    CHECK(vmcs.get(field::GUEST_CS_LIMIT.kEncoding) == 0x9abcdef0);
    vmcs.set(field::GUEST_RIP.kEncoding, 0x123456789abcdef0);
    CHECK(vmcs.get(field::GUEST_RIP.kEncoding) == 0x123456789abcdef0);
    vmcs.set(field::TSC_OFFSET.kEncoding, 0xfedcba9876543210);
    CHECK(vmcs.get(field::TSC_OFFSET.kEncoding) == 0xfedcba9876543210);
}

TEST_CASE("VMCS store: high access of 64-bit fields reads and writes bits 63:32 only", "[vmcs-store]")
{
    MachineMemory memory(1 << 20);
    VmcsStore vmcs(memory, Hpa{0x3000});
    vmcs.set(field::TSC_OFFSET, 0x1111111122222222);
    CHECK(vmcs.get(field::TSC_OFFSET.kEncoding | 1) == 0x11111111);
    vmcs.set(field::TSC_OFFSET.kEncoding | 1, 0xaaaaaaaabbbbbbbb);  // only the low 32 bits of the value count
    CHECK(vmcs.get(field::TSC_OFFSET) == 0xbbbbbbbb22222222);
}

TEST_CASE("VMCS store: typed access, launch state, revision and abort words live in the region", "[vmcs-store]")
{
    MachineMemory memory(1 << 20);
    VmcsStore vmcs(memory, Hpa{0x5000});
    vmcs.set(field::GUEST_ES_AR_BYTES, 0xc093u);
    CHECK(vmcs.get(field::GUEST_ES_AR_BYTES) == 0xc093u);
    CHECK_FALSE(vmcs.launched());
    vmcs.set_launched(true);
    CHECK(vmcs.launched());
    CHECK(memory.load<u32>(0x5000 + VmcsStore::kLaunchStateOffset) == 1);
    vmcs.set_revision_word(0x80000004);
    CHECK(memory.load<u32>(0x5000) == 0x80000004);
    vmcs.set_abort_indicator(7);
    CHECK(memory.load<u32>(0x5004) == 7);
    // A second store on the same region sees the same data: the region is the VMCS.
    VmcsStore again(memory, Hpa{0x5000});
    CHECK(again.get(field::GUEST_ES_AR_BYTES) == 0xc093u);
    CHECK(again.launched());
    CHECK(again.address() == Hpa{0x5000});
}

TEST_CASE("VMCS store: every table field has its own slot inside the page", "[vmcs-store]")
{
    MachineMemory memory(1 << 20);
    VmcsStore vmcs(memory, Hpa{0x6000});
    for (usize i = 0; i < kVmcsFieldCount; ++i) vmcs.set(kVmcsFieldTable[i].encoding, i + 1);
    for (usize i = 0; i < kVmcsFieldCount; ++i) {
        INFO(kVmcsFieldTable[i].name);
        CHECK(vmcs.get(kVmcsFieldTable[i].encoding) == ((i + 1) & VmcsStore::width_mask(kVmcsFieldTable[i].encoding)));
    }
    // Nothing written past the region.
    CHECK(memory.load<u64>(0x7000) == 0);
}

TEST_CASE("VMCS encodings: width and type come from the encoding bits", "[vmcs-store]")
{
    CHECK(encoding_width(field::GUEST_CS_SELECTOR.kEncoding) == VmcsWidth::W16);
    CHECK(encoding_width(field::EPT_POINTER.kEncoding) == VmcsWidth::W64);
    CHECK(encoding_width(field::VM_EXIT_REASON.kEncoding) == VmcsWidth::W32);
    CHECK(encoding_width(field::GUEST_RIP.kEncoding) == VmcsWidth::NATURAL);
    CHECK(encoding_type(field::VM_EXIT_REASON.kEncoding) == VmcsFieldType::EXIT_INFO);
    CHECK(encoding_type(field::HOST_RIP.kEncoding) == VmcsFieldType::HOST);
    CHECK(encoding_type(field::GUEST_RIP.kEncoding) == VmcsFieldType::GUEST);
    CHECK(encoding_type(field::PIN_BASED_VM_EXEC_CONTROL.kEncoding) == VmcsFieldType::CONTROL);
    CHECK(VmcsStore::width_mask(field::GUEST_CS_SELECTOR.kEncoding) == 0xffff);
    CHECK(VmcsStore::width_mask(field::VM_EXIT_REASON.kEncoding) == 0xffffffff);
}

TEST_CASE("VMCS store: the O(1) field lookup agrees with the table", "[vmcs-store]")
{
    for (u32 e = 0; e < 0x8000; ++e) {
        INFO(e);
        REQUIRE(VmcsStore::field_index(e) == vmcs_field_index(e));
    }
    CHECK(VmcsStore::field_index(0x10000) == -1);
    CHECK(VmcsStore::field_index(~u64{0}) == -1);
}
