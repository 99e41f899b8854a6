#include "boot/linux_boot.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "boot_image_bytes.hpp"

using namespace xeno;
using namespace xeno::boot;
using boot_test::Bytes;
using boot_test::get16;
using boot_test::get32;
using boot_test::get64;
using boot_test::GuardedBuffer;

namespace {

constexpr usize kSetupSize = 5 * 512;  // setup_sects 4
constexpr usize kKernelSize = 0x2000;
constexpr usize kPayloadOffset = 0x100, kPayloadLength = 0x400;
constexpr u32 kDecompressedSize = 0x01234567;

// A bzImage as Linux 6.x builds it (protocol 2.15), with every byte the
// header does not define filled with a pattern, so a writer that copies too
// much shows it.
Bytes fake_bzimage(u16 version = 0x20f, u8 jump_length = 0x6a)
{
    Bytes image(kSetupSize + kKernelSize);
    for (usize i = 0; i < image.size(); ++i) image.data[i] = static_cast<u8>(0xa5 ^ i);
    for (usize i = 0x1f1; i < 0x202 + usize{jump_length}; ++i) image.data[i] = 0;
    image.put8(0x1f1, 4);                      // setup_sects
    image.put32(0x1f4, kKernelSize / 16);      // syssize
    image.put16(0x1fa, 0xffff);                // vid_mode
    image.put16(0x1fe, 0xaa55);                // boot_flag
    image.put8(0x200, 0xeb);                   // jmp short
    image.put8(0x201, jump_length);
    image.put_string(0x202, "HdrS");
    image.put16(0x206, version);
    image.put16(0x20e, 0x100);                 // kernel_version
    image.put8(0x211, 0x01 | 0x20 | 0x40 | 0x80);  // LOADED_HIGH, QUIET, KEEP_SEGMENTS, CAN_USE_HEAP
    image.put32(0x214, 0x100000);              // code32_start
    image.put32(0x218, 0x11111111);            // ramdisk_image: the writer's
    image.put16(0x224, 0xde00);                // heap_end_ptr: the writer's
    image.put32(0x22c, 0x7fffffff);            // initrd_addr_max
    image.put32(0x230, 0x200000);              // kernel_alignment
    image.put8(0x234, 1);                      // relocatable_kernel
    if (version >= 0x20a) image.put8(0x235, 21);  // min_alignment
    if (version >= 0x20c) image.put16(0x236, kLinuxXlfKernel64);
    image.put32(0x238, 2047);                  // cmdline_size
    if (version >= 0x208) {
        image.put32(0x248, kPayloadOffset);
        image.put32(0x24c, kPayloadLength);
    }
    if (version >= 0x209) image.put64(0x250, 0xdeadbeef);  // setup_data: the writer's
    if (version >= 0x20a) {
        image.put64(0x258, 0x1000000);         // pref_address
        image.put32(0x260, 0x3000000);         // init_size
    }
    if (version >= 0x20b) image.put32(0x264, 0x190);      // handover_offset
    if (version >= 0x20f) image.put32(0x268, 0x1234);     // kernel_info_offset
    const usize payload = kSetupSize + kPayloadOffset;
    image.put_bytes(payload, {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00});
    image.put32(payload + kPayloadLength - 4, kDecompressedSize);
    return image;
}

Status parse(const Bytes& image, LinuxKernelPlan* plan, std::string* why = nullptr)
{
    const char* reason = nullptr;
    const Status s = parse_linux_bzimage(image.ptr(), image.size(), plan, &reason);
    if (s != Status::OK) REQUIRE(reason != nullptr);
    if (why) *why = reason ? reason : "";
    return s;
}

std::string failure(const Bytes& image, Status expected)
{
    LinuxKernelPlan plan;
    std::string why;
    CHECK(parse(image, &plan, &why) == expected);
    return why;
}

const E820Entry kMap[] = {
    {0x0, 0x9fc00, kE820Ram},
    {0x9fc00, 0x400, kE820Reserved},
    {0xf0000, 0x10000, kE820Reserved},
    {0x100000, 0x7ff00000, kE820Ram},
    {0xfee00000, 0x1000, kE820Reserved},
};

LinuxBootInputs sample_inputs()
{
    LinuxBootInputs in;
    in.cmdline = "console=ttyS0 root=/dev/vda";
    in.initrd_gpa = 0x7ef00000;
    in.initrd_size = 0x100000;  // its last byte is initrd_addr_max - 0xfffff
    in.memory_map = kMap;
    in.memory_map_count = 5;
    in.rsdp_gpa = 0xe0000;
    return in;
}

struct Written {
    Status status;
    std::string why;
    LinuxBootParamsPlacement where;
    std::vector<u8> bytes;
};

Written write(const Bytes& image, const LinuxKernelPlan& plan, const LinuxBootInputs& in, u64 base = 0x7000,
              usize capacity = 8192)
{
    GuardedBuffer buf(capacity, base);
    Written w{};
    const char* why = nullptr;
    w.status = write_linux_boot_params(image.ptr(), image.size(), plan, in, buf.out(), capacity, base, &w.where, &why);
    w.why = why ? why : "";
    REQUIRE(buf.guard_intact());
    w.bytes.assign(buf.storage.begin(), buf.storage.begin() + static_cast<long>(capacity));
    return w;
}

}  // namespace

TEST_CASE("linux: the plan of a relocatable 64-bit bzImage", "[boot][linux]")
{
    const Bytes image = fake_bzimage();
    LinuxKernelPlan plan;
    REQUIRE(parse(image, &plan) == Status::OK);
    CHECK(plan.version == 0x20f);
    CHECK(plan.header_end == 0x26c);
    CHECK(plan.setup_size == kSetupSize);
    CHECK(plan.kernel_offset == kSetupSize);
    CHECK(plan.kernel_size == kKernelSize);
    CHECK(plan.load_addr == 0x1000000);
    CHECK(plan.entry32 == 0x1000000);
    CHECK(plan.has_entry64);
    CHECK(plan.entry64 == 0x1000200);
    CHECK(plan.loadflags == 0xe1);
    CHECK(plan.xloadflags == kLinuxXlfKernel64);
    CHECK(plan.relocatable);
    CHECK(plan.kernel_alignment == 0x200000);
    CHECK(plan.min_alignment == 21);
    CHECK(plan.pref_address == 0x1000000);
    CHECK(plan.code32_start == 0x100000);
    CHECK(plan.initrd_addr_max == 0x7fffffff);
    CHECK_FALSE(plan.initrd_above_4g);
    CHECK(plan.cmdline_max == 2047);
    CHECK(plan.init_size == 0x3000000);
    CHECK(plan.runtime_start == 0x1000000);
    CHECK(plan.runtime_end == 0x4000000);
    CHECK(plan.payload_offset == kPayloadOffset);
    CHECK(plan.payload_length == kPayloadLength);
}

TEST_CASE("linux: non-relocatable, unaligned pref_address, setup_sects 0, protocol 2.06", "[boot][linux]")
{
    LinuxKernelPlan plan;
    Bytes fixed = fake_bzimage();
    fixed.put8(0x234, 0);
    REQUIRE(parse(fixed, &plan) == Status::OK);
    CHECK(plan.load_addr == 0x100000);
    CHECK(plan.entry32 == 0x100000);
    CHECK(plan.entry64 == 0x100200);
    CHECK(plan.runtime_start == 0x1000000);  // it moves itself to pref_address

    Bytes unaligned = fake_bzimage();
    unaligned.put64(0x258, 0x1100000);
    REQUIRE(parse(unaligned, &plan) == Status::OK);
    CHECK(plan.load_addr == 0x1100000);
    CHECK(plan.runtime_start == 0x1200000);
    CHECK(plan.runtime_end == 0x4200000);

    Bytes zero_sects = fake_bzimage();
    zero_sects.put8(0x1f1, 0);
    REQUIRE(parse(zero_sects, &plan) == Status::OK);
    CHECK(plan.setup_size == kSetupSize);

    Bytes old = fake_bzimage(0x206, 0x3a);  // header ends after cmdline_size
    REQUIRE(parse(old, &plan) == Status::OK);
    CHECK(plan.header_end == 0x23c);
    CHECK(plan.xloadflags == 0);
    CHECK_FALSE(plan.has_entry64);
    CHECK(plan.pref_address == 0x100000);
    CHECK(plan.load_addr == 0x100000);
    CHECK(plan.init_size == 0);
    CHECK(plan.runtime_start == 0x200000);  // 1 MiB rounded up to kernel_alignment
    CHECK(plan.runtime_end == 0x200000 + kKernelSize);
    LinuxPayload payload;
    const char* why = nullptr;
    CHECK(find_linux_payload(old.ptr(), old.size(), plan, &payload, &why) == Status::UNSUPPORTED);
}

TEST_CASE("linux: malformed and unsupported setup headers", "[boot][linux]")
{
    auto with = [](auto change, Status expected) {
        Bytes b = fake_bzimage();
        change(b);
        return failure(b, expected);
    };
    CHECK(with([](Bytes& b) { b.put16(0x1fe, 0x55aa); }, Status::BAD_ARGUMENT) ==
          "not a Linux kernel image (boot_flag is not 0xaa55)");
    CHECK(with([](Bytes& b) { b.put8(0x205, 'T'); }, Status::BAD_ARGUMENT) ==
          "not a Linux bzImage (no \"HdrS\" at 0x202)");
    CHECK(with([](Bytes& b) { b.put16(0x206, 0x205); }, Status::UNSUPPORTED) ==
          "Linux boot protocol is older than 2.06");
    CHECK(with([](Bytes& b) { b.put8(0x201, 0x50); }, Status::BAD_ARGUMENT) ==
          "Linux setup header is shorter than its protocol version needs");
    CHECK(with([](Bytes& b) { b.put8(0x201, 0x90); }, Status::BAD_ARGUMENT) ==
          "Linux setup header claims to run past boot_params' 0x290");
    CHECK(with([](Bytes& b) { b.put8(0x211, 0x80); }, Status::UNSUPPORTED) ==
          "Linux zImage (loadflags without LOADED_HIGH) is not supported");
    CHECK(with([](Bytes& b) { b.put32(0x230, 0x300000); }, Status::BAD_ARGUMENT) ==
          "relocatable Linux kernel's kernel_alignment is not a power of two");
    CHECK(with([](Bytes& b) { b.put32(0x230, 0); }, Status::BAD_ARGUMENT) ==
          "relocatable Linux kernel's kernel_alignment is not a power of two");
    CHECK(with([](Bytes& b) { b.put64(0x258, 0x80000); }, Status::BAD_ARGUMENT) ==
          "Linux pref_address is not between 1 MiB and 4 GiB");
    CHECK(with([](Bytes& b) { b.put64(0x258, 0x100000000); }, Status::BAD_ARGUMENT) ==
          "Linux pref_address is not between 1 MiB and 4 GiB");
    CHECK(with([](Bytes& b) { b.put32(0x260, 0xff000001); }, Status::BAD_ARGUMENT) ==
          "Linux kernel would not fit below 4 GiB");
    CHECK(with([](Bytes& b) { b.put32(0x1f4, kKernelSize / 16 + 1); }, Status::BAD_ARGUMENT) ==
          "Linux image is shorter than its syssize says (truncated?)");
    Bytes setup_only = fake_bzimage();
    setup_only.data.resize(kSetupSize);
    CHECK(failure(setup_only, Status::BAD_ARGUMENT) == "Linux image ends before its protected-mode code");
    CHECK(failure(Bytes(0x207), Status::BAD_ARGUMENT) == "too small for a Linux setup header");
    Bytes short_header = fake_bzimage();
    short_header.data.resize(0x260);
    CHECK(failure(short_header, Status::BAD_ARGUMENT) == "Linux setup header is cut off");
}

TEST_CASE("linux: every truncation is refused cleanly", "[boot][linux]")
{
    const Bytes image = fake_bzimage();
    for (usize length = 0; length < image.size(); ++length) {
        const std::vector<u8> cut = boot_test::prefix(image, length);
        LinuxKernelPlan plan;
        const char* why = nullptr;
        INFO("length " << length);
        REQUIRE(parse_linux_bzimage(cut.data(), cut.size(), &plan, &why) != Status::OK);
        REQUIRE(why != nullptr);
    }
}

TEST_CASE("linux: the compressed payload and its format", "[boot][linux]")
{
    Bytes image = fake_bzimage();
    LinuxKernelPlan plan;
    REQUIRE(parse(image, &plan) == Status::OK);
    LinuxPayload payload;
    const char* why = nullptr;
    REQUIRE(find_linux_payload(image.ptr(), image.size(), plan, &payload, &why) == Status::OK);
    CHECK(payload.file_offset == kSetupSize + kPayloadOffset);
    CHECK(payload.size == kPayloadLength);
    CHECK(payload.format == LinuxPayloadFormat::XZ);
    CHECK(payload.decompressed_size == kDecompressedSize);
    CHECK(std::string(linux_payload_format_name(payload.format)) == "xz");

    const struct {
        std::vector<u8> magic;
        LinuxPayloadFormat format;
        const char* name;
    } formats[] = {
        {{0x1f, 0x8b, 0x08}, LinuxPayloadFormat::GZIP, "gzip"},
        {{0x28, 0xb5, 0x2f, 0xfd}, LinuxPayloadFormat::ZSTD, "zstd"},
        {{0x02, 0x21, 0x4c, 0x18}, LinuxPayloadFormat::LZ4, "lz4"},
        {{'B', 'Z', 'h', '9'}, LinuxPayloadFormat::BZIP2, "bzip2"},
        {{0x5d, 0x00, 0x00, 0x80}, LinuxPayloadFormat::LZMA, "lzma"},
        {{0x7f, 'E', 'L', 'F'}, LinuxPayloadFormat::ELF, "uncompressed ELF"},
    };
    for (const auto& f : formats) {
        Bytes other = image;
        other.put_bytes(payload.file_offset, std::vector<u8>(6, 0));
        other.put_bytes(payload.file_offset, f.magic);
        INFO(f.name);
        REQUIRE(find_linux_payload(other.ptr(), other.size(), plan, &payload, &why) == Status::OK);
        CHECK(payload.format == f.format);
        CHECK(std::string(linux_payload_format_name(f.format)) == f.name);
    }
    Bytes xz_lookalike = image;  // xz's magic needs all six bytes
    xz_lookalike.put8(payload.file_offset + 5, 1);
    CHECK(find_linux_payload(xz_lookalike.ptr(), xz_lookalike.size(), plan, &payload, &why) == Status::UNSUPPORTED);
    CHECK(std::string(why) == "Linux payload's format is not recognised by its magic");

    LinuxKernelPlan bad = plan;
    bad.payload_offset = kKernelSize - 0x10;
    CHECK(find_linux_payload(image.ptr(), image.size(), bad, &payload, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "Linux payload lies outside the image");
    bad.payload_offset = 0xffffffff;
    bad.payload_length = 0xffffffff;
    CHECK(find_linux_payload(image.ptr(), image.size(), bad, &payload, &why) == Status::BAD_ARGUMENT);
    bad = plan;
    bad.payload_length = 3;
    CHECK(find_linux_payload(image.ptr(), image.size(), bad, &payload, &why) == Status::BAD_ARGUMENT);
    CHECK(std::string(why) == "Linux payload is shorter than 4 bytes");
}

TEST_CASE("linux: boot_params, every field", "[boot][linux]")
{
    const Bytes image = fake_bzimage();
    LinuxKernelPlan plan;
    REQUIRE(parse(image, &plan) == Status::OK);
    const LinuxBootInputs in = sample_inputs();
    const std::string cmdline = in.cmdline;
    const Written w = write(image, plan, in);
    REQUIRE(w.status == Status::OK);
    CHECK(w.where.boot_params_gpa == 0x7000);
    CHECK(w.where.cmdline_gpa == 0x8000);
    CHECK(w.where.bytes_used == 4096 + cmdline.size() + 1);
    const u8* bp = w.bytes.data();

    // The setup header is the image's, but for the fields the loader writes.
    const std::set<usize> written = {0x210, 0x211, 0x218, 0x219, 0x21a, 0x21b, 0x21c, 0x21d, 0x21e, 0x21f,
                                     0x224, 0x225, 0x226, 0x227, 0x228, 0x229, 0x22a, 0x22b, 0x250, 0x251,
                                     0x252, 0x253, 0x254, 0x255, 0x256, 0x257};
    for (usize i = 0x1f1; i < 0x26c; ++i)
        if (!written.count(i)) {
            INFO("offset " << std::hex << i);
            CHECK(bp[i] == image.data[i]);
        }
    CHECK(bp[0x210] == 0xff);  // type_of_loader
    CHECK(bp[0x211] == 0x21);  // LOADED_HIGH and QUIET kept; KEEP_SEGMENTS, CAN_USE_HEAP cleared
    CHECK(get32(bp + 0x218) == 0x7ef00000);
    CHECK(get32(bp + 0x21c) == 0x100000);
    CHECK(get16(bp + 0x224) == 0);  // heap_end_ptr
    CHECK(bp[0x226] == 0);
    CHECK(bp[0x227] == 0);
    CHECK(get32(bp + 0x228) == 0x8000);
    CHECK(get64(bp + 0x250) == 0);  // setup_data
    CHECK(std::string(reinterpret_cast<const char*>(w.bytes.data() + 0x1000)) == cmdline);

    // Outside the header: the RSDP, the ext_ halves, the E820 table, zeros.
    CHECK(get64(bp + 0x070) == 0xe0000);
    CHECK(get32(bp + 0x0c0) == 0);
    CHECK(get32(bp + 0x0c4) == 0);
    CHECK(get32(bp + 0x0c8) == 0);
    CHECK(bp[0x1e8] == 5);
    for (usize i = 0; i < 5; ++i) {
        const u8* e = bp + 0x2d0 + 20 * i;
        CHECK(get64(e) == kMap[i].addr);
        CHECK(get64(e + 8) == kMap[i].size);
        CHECK(get32(e + 16) == kMap[i].type);
    }
    for (usize i = 0; i < 4096; ++i) {
        const bool field = (i >= 0x70 && i < 0x78) || i == 0x1e8 || (i >= 0x1f1 && i < 0x26c) ||
                           (i >= 0x2d0 && i < 0x2d0 + 5 * 20);
        if (!field) {
            INFO("offset " << std::hex << i);
            REQUIRE(bp[i] == 0);  // e.g. the sentinel at 0x1ef, screen_info, the rest of the table
        }
    }
}

TEST_CASE("linux: boot_params limits", "[boot][linux]")
{
    Bytes image = fake_bzimage();
    LinuxKernelPlan plan;
    REQUIRE(parse(image, &plan) == Status::OK);
    LinuxBootInputs in = sample_inputs();

    SECTION("an initrd up to initrd_addr_max, not past it") {
        in.initrd_gpa = 0x7ff00000;
        CHECK(write(image, plan, in).status == Status::OK);
        in.initrd_gpa = 0x7ff00001;
        const Written w = write(image, plan, in);
        CHECK(w.status == Status::BAD_ARGUMENT);
        CHECK(w.why == "initrd ends above the kernel's initrd_addr_max");
        in.initrd_gpa = ~u64{0} - 0x10;
        CHECK(write(image, plan, in).why == "initrd's address range overflows");
    }
    SECTION("no initrd: ramdisk fields 0 wherever initrd_gpa points") {
        in.initrd_gpa = 0x123456789;
        in.initrd_size = 0;
        const Written w = write(image, plan, in);
        REQUIRE(w.status == Status::OK);
        CHECK(get32(w.bytes.data() + 0x218) == 0);
        CHECK(get32(w.bytes.data() + 0x0c0) == 0);
        CHECK(get32(w.bytes.data() + 0x21c) == 0);
    }
    SECTION("an initrd above 4 GiB when the kernel allows it: the ext_ halves") {
        image.put16(0x236, kLinuxXlfKernel64 | kLinuxXlfCanBeLoadedAbove4G);
        REQUIRE(parse(image, &plan) == Status::OK);
        CHECK(plan.initrd_above_4g);
        in.initrd_gpa = 0x180000000;
        in.initrd_size = 0x100001000;
        const Written w = write(image, plan, in);
        REQUIRE(w.status == Status::OK);
        CHECK(get32(w.bytes.data() + 0x218) == 0x80000000);
        CHECK(get32(w.bytes.data() + 0x0c0) == 1);
        CHECK(get32(w.bytes.data() + 0x21c) == 0x1000);
        CHECK(get32(w.bytes.data() + 0x0c4) == 1);
    }
    SECTION("the command line fits cmdline_size") {
        image.put32(0x238, 16);
        REQUIRE(parse(image, &plan) == Status::OK);
        in.cmdline = "0123456789abcdef";
        CHECK(write(image, plan, in).status == Status::OK);
        in.cmdline = "0123456789abcdefg";
        const Written w = write(image, plan, in);
        CHECK(w.status == Status::TOO_LARGE);
        CHECK(w.why == "command line is longer than the kernel's cmdline_size");
        in.cmdline = nullptr;
        const Written empty = write(image, plan, in);
        REQUIRE(empty.status == Status::OK);
        CHECK(empty.where.bytes_used == 4097);
        CHECK(empty.bytes[4096] == 0);
    }
    SECTION("at most 128 E820 entries") {
        std::vector<E820Entry> map(129, E820Entry{0, 0x1000, kE820Ram});
        for (usize i = 0; i < map.size(); ++i) map[i].addr = i * 0x1000;
        in.memory_map = map.data();
        in.memory_map_count = 128;
        const Written ok = write(image, plan, in);
        REQUIRE(ok.status == Status::OK);
        CHECK(ok.bytes[0x1e8] == 128);
        CHECK(get64(ok.bytes.data() + 0x2d0 + 127 * 20) == 127 * 0x1000);
        in.memory_map_count = 129;
        const Written w = write(image, plan, in);
        CHECK(w.status == Status::TOO_LARGE);
        CHECK(w.why == "more than 128 E820 entries for boot_params");
    }
    SECTION("acpi_rsdp_addr only from protocol 2.14") {
        image.put16(0x206, 0x20d);
        REQUIRE(parse(image, &plan) == Status::OK);
        const Written w = write(image, plan, in);
        REQUIRE(w.status == Status::OK);
        CHECK(get64(w.bytes.data() + 0x070) == 0);
    }
    SECTION("below 4 GiB") {
        CHECK(write(image, plan, in, 0x100000000).status == Status::BAD_ARGUMENT);
        const Written w = write(image, plan, in, 0xfffff000);
        CHECK(w.status == Status::BAD_ARGUMENT);
        CHECK(w.why == "boot_params and the command line must lie below 4 GiB");
    }
    SECTION("an image that does not match the plan") {
        const Written w = [&] {
            GuardedBuffer buf(8192, 0x7000);
            Written r{};
            const char* why = nullptr;
            r.status = write_linux_boot_params(image.ptr(), 0x200, plan, in, buf.out(), 8192, 0x7000, &r.where, &why);
            r.why = why;
            return r;
        }();
        CHECK(w.status == Status::BAD_ARGUMENT);
    }
    SECTION("every buffer too small fails without writing past it") {
        const usize needed = 4096 + std::string(in.cmdline).size() + 1;
        for (usize capacity = 0; capacity < needed; ++capacity) {
            INFO("capacity " << capacity);
            const Written w = write(image, plan, in, 0x7000, capacity);  // checks the guard
            REQUIRE(w.status == Status::TOO_LARGE);
            REQUIRE_FALSE(w.why.empty());
        }
    }
}

TEST_CASE("linux: a real bzImage, when one is unpacked under build/", "[boot][linux]")
{
    namespace fs = std::filesystem;
    const fs::path root = fs::path(XENO_SOURCE_DIR) / "build";
    fs::path found;
    std::error_code ec;
    if (fs::is_directory(root, ec))
        for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
            if (it->is_regular_file(ec) && it->path().filename().string().rfind("vmlinuz-", 0) == 0) {
                found = it->path();
                break;
            }
    if (found.empty()) {
        WARN("no vmlinuz-* under build/: the real-kernel check is skipped");
        return;
    }
    std::ifstream file(found, std::ios::binary);
    Bytes image(static_cast<usize>(fs::file_size(found)));
    file.read(reinterpret_cast<char*>(image.data.data()), static_cast<std::streamsize>(image.size()));
    REQUIRE(file.good());
    INFO(found.string());
    LinuxKernelPlan plan;
    std::string why;
    REQUIRE(parse(image, &plan, &why) == Status::OK);
    CHECK(plan.version >= 0x20c);
    CHECK(plan.relocatable);
    CHECK(plan.has_entry64);
    CHECK(plan.cmdline_max >= 255);
    CHECK(plan.init_size > plan.kernel_size);
    LinuxPayload payload;
    const char* reason = nullptr;
    REQUIRE(find_linux_payload(image.ptr(), image.size(), plan, &payload, &reason) == Status::OK);
    CHECK(payload.format != LinuxPayloadFormat::ELF);
    CHECK(payload.decompressed_size > payload.size);
    const Written w = write(image, plan, sample_inputs());
    CHECK(w.status == Status::OK);
}
