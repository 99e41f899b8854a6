#include "lib/format.hpp"

#include <catch2/catch.hpp>

#include "arch/x86/vmx/vmcs_field.hpp"

using namespace xeno;

TEST_CASE("Writer formats decimal and hex and never overflows its buffer")
{
    FixedWriter<16> w;
    w.str("x=").dec(1234).ch(' ').hex(0x3f8);
    CHECK(std::string(w.c_str()) == "x=1234 0x3f8");
    CHECK_FALSE(w.truncated());
    w.str("overflowing");
    CHECK(w.truncated());
    CHECK(w.size() == 15);
}

TEST_CASE("Writer formats negative numbers and fixed-width hex")
{
    FixedWriter<32> w;
    w.sdec(-42).ch(' ').hex_digits(0xab, 4).ch(' ').hex(0);
    CHECK(std::string(w.c_str()) == "-42 00ab 0x0");
}

TEST_CASE("VMCS field table: encodings are unique and widths match their types")
{
    for (usize i = 0; i < vmx::kVmcsFieldCount; ++i)
        for (usize j = i + 1; j < vmx::kVmcsFieldCount; ++j)
            CHECK(vmx::kVmcsFieldTable[i].encoding != vmx::kVmcsFieldTable[j].encoding);
    CHECK(vmx::encoding_width(vmx::field::GUEST_CS_SELECTOR.kEncoding) == vmx::VmcsWidth::W16);
    CHECK(vmx::encoding_width(vmx::field::TSC_OFFSET.kEncoding) == vmx::VmcsWidth::W64);
    CHECK(vmx::encoding_width(vmx::field::VM_EXIT_REASON.kEncoding) == vmx::VmcsWidth::W32);
    CHECK(vmx::encoding_width(vmx::field::GUEST_RIP.kEncoding) == vmx::VmcsWidth::NATURAL);
    CHECK(vmx::encoding_type(vmx::field::HOST_RIP.kEncoding) == vmx::VmcsFieldType::HOST);
    CHECK(vmx::encoding_type(vmx::field::EXIT_QUALIFICATION.kEncoding) == vmx::VmcsFieldType::EXIT_INFO);
    CHECK(std::string(vmx::vmcs_field_name(0x2011)) == "TSC_OFFSET");  // high access names its field
    CHECK(vmx::vmcs_field_name(0x7777) == nullptr);
}
