#include "boot/acpi_dsdt.hpp"

namespace xeno::boot {

usize encode_pkg_length(usize body, u8* out)
{
    // Largest total length that 1, 2, 3, 4 PkgLength bytes can hold: one
    // byte has 6 bits of length; a longer form has 4 bits in the lead byte
    // and 8 in each following one.
    constexpr usize kMaxTotal[4] = {0x3f, 0xfff, 0xfffff, 0xfffffff};
    for (usize n = 1; n <= 4; ++n) {
        const usize total = body + n;
        if (total > kMaxTotal[n - 1]) continue;
        if (out) {
            if (n == 1) {
                out[0] = static_cast<u8>(total);
            } else {
                // Lead byte: bits 7:6 the count of following bytes, 5:4 zero,
                // 3:0 the low nibble of the length.
                out[0] = static_cast<u8>(((n - 1) << 6) | (total & 0xf));
                for (usize i = 1; i < n; ++i) out[i] = static_cast<u8>(total >> (4 + 8 * (i - 1)));
            }
        }
        return n;
    }
    return 0;
}

namespace {

// Appends AML bytes to a buffer, dropping those past its capacity while
// still counting them, so the same emitter both measures and writes.
class AmlWriter {
public:
    AmlWriter(u8* out, usize capacity) : out_(out), capacity_(capacity) {}

    usize size() const { return size_; }

    void byte(u8 b)
    {
        if (out_ && size_ < capacity_) out_[size_] = b;
        ++size_;
    }

    // A NameSeg: exactly four characters (lead A-Z or '_', then A-Z, 0-9, '_').
    void name_seg(const char* seg)
    {
        for (usize i = 0; i < 4; ++i) byte(static_cast<u8>(seg[i]));
    }

    // The shortest ComputationalData for `value`.
    void integer(u64 value)
    {
        if (value == 0) {
            byte(aml::ZERO_OP);
        } else if (value == 1) {
            byte(aml::ONE_OP);
        } else if (value <= 0xff) {
            byte(aml::BYTE_PREFIX);
            le(value, 1);
        } else if (value <= 0xffff) {
            byte(aml::WORD_PREFIX);
            le(value, 2);
        } else if (value <= 0xffffffff) {
            byte(aml::DWORD_PREFIX);
            le(value, 4);
        } else {
            byte(aml::QWORD_PREFIX);
            le(value, 8);
        }
    }

    void string(const char* s)
    {
        byte(aml::STRING_PREFIX);
        while (*s) byte(static_cast<u8>(*s++));
        byte(0);
    }

    void pkg_length(usize body)
    {
        u8 encoded[4];
        const usize n = encode_pkg_length(body, encoded);
        for (usize i = 0; i < n; ++i) byte(encoded[i]);
    }

    // A PkgLength followed by what `emit_body(AmlWriter&)` writes. The body
    // runs once into a counting writer first, for the length.
    template <typename Body>
    void package(Body emit_body)
    {
        AmlWriter counter(nullptr, 0);
        emit_body(counter);
        pkg_length(counter.size());
        emit_body(*this);
    }

private:
    void le(u64 value, unsigned bytes)
    {
        for (unsigned i = 0; i < bytes; ++i) byte(static_cast<u8>(value >> (8 * i)));
    }

    u8* out_;
    usize capacity_;
    usize size_ = 0;
};

// Name (\_S5, Package (4) { slp, slp, 0, 0 }): SLP_TYP for PM1a_CNT, for
// PM1b_CNT (there is no PM1b block; the value is unused), then two
// reserved elements.
void emit_s5(AmlWriter& w, u8 slp_typ)
{
    w.byte(aml::NAME_OP);
    w.byte(aml::ROOT_CHAR);
    w.name_seg("_S5_");
    w.byte(aml::PACKAGE_OP);
    w.package([slp_typ](AmlWriter& b) {
        b.byte(4);  // NumElements
        b.integer(slp_typ);
        b.integer(slp_typ);
        b.integer(0);
        b.integer(0);
    });
}

// Device (Cnnn) { Name (_HID, "ACPI0007")  Name (_UID, index) }
void emit_processor(AmlWriter& w, u32 index)
{
    constexpr char kHex[] = "0123456789ABCDEF";
    const char name[4] = {'C', kHex[(index >> 8) & 0xf], kHex[(index >> 4) & 0xf], kHex[index & 0xf]};
    w.byte(aml::EXT_OP_PREFIX);
    w.byte(aml::DEVICE_OP);
    w.package([&name, index](AmlWriter& b) {
        b.name_seg(name);
        b.byte(aml::NAME_OP);
        b.name_seg("_HID");
        b.string("ACPI0007");
        b.byte(aml::NAME_OP);
        b.name_seg("_UID");
        b.integer(index);
    });
}

void emit_processors(AmlWriter& w, u32 vcpus)
{
    w.byte(aml::SCOPE_OP);
    w.package([vcpus](AmlWriter& b) {
        b.byte(aml::ROOT_CHAR);
        b.name_seg("_SB_");
        for (u32 i = 0; i < vcpus; ++i) emit_processor(b, i);
    });
}

}  // namespace

usize write_dsdt_aml(const AcpiPlatform& platform, u8* out, usize capacity)
{
    AmlWriter w(out, capacity);
    emit_s5(w, platform.s5_slp_typ);
    emit_processors(w, platform.vcpus);
    return w.size();
}

}  // namespace xeno::boot
