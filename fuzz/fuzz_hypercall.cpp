// fuzz-hypercall: the Xen hypercall ABI (src/xen/) driven straight through
// the VMCALL exit handler, with no guest code running: each input builds a
// small domain (1 MiB of guest RAM, one or two vcpus, EPT or shadow paging)
// on a simulated machine's parts (tests/sim_parts.hpp), then plays a script
// of operations against it: hypercalls with registers from the input, guest
// memory writes (the guest's page tables included, so the copy helpers walk
// hostile tables), paging-mode and CPL changes, vcpu switches, time passing
// (the Xen timers fire) and the scheduler resuming a vcpu. Several
// hypercalls per input, so state-carrying operations (event channels, grant
// frames, timers, vcpu up/down, the XenStore and console rings the input
// wrote) meet each other.
//
// No Unicorn run and no VM entry: vmx::handle_vmcall is called as the exit
// dispatcher would, with the vcpu's VMCS current in the VMX model. Building
// the domain (its RAM, VMCSs, EPT or shadow tables, the Xen state at the
// first hypercall) is most of an input's cost; the rig zeroes what an input
// used itself rather than through the allocator's zeroing, which coverage
// tracing makes slow.
//
// Input: one set-up byte (bit 0: shadow paging instead of EPT; bit 1: two
// vcpus; bits 3:2: the starting mode, see set_mode), then operations, each
// an opcode byte and its operands (little-endian):
//   0 hypercall   u8 number, 5 x u64 arguments (RDI RSI RDX R10 R8 in
//                 64-bit mode, EBX ECX EDX ESI EDI in 32-bit mode)
//   1 write       u32 guest-physical address, u16 length, the bytes
//   2 mode        u8 mode (set_mode), u32 CR3 (0: the rig's tables for it)
//   3 time        u64 nanoseconds to advance; the expired Xen timers fire
//   4 vcpu        u8 vcpu to call from (its VMCS made current)
//   5 msr         u64 value written to the hypercall-page MSR
//   6 resume      the scheduler resumes the calling vcpu (wake-up checks,
//                 callback vector, GSI callback)
//   7 fill        u32 guest-physical address, u16 length, u8 byte
//
// Properties: no crash, no sanitizer report, no hypervisor panic; every
// result is a documented success (>= 0) or -errno with a Xen errno value
// (never the internal EINTR/ERESTART); 32-bit callers see RAX's upper half
// zero; user mode gets -EPERM with nothing done; RIP moves past the VMCALL
// unless the call was preempted (a continuation, retried as the guest would
// re-execute it); no VMREAD/VMWRITE fails; the domain is never ended by a
// hypervisor-side error; and machine memory outside the domain's frames --
// the low megabyte the allocator never hands out and decoy ranges reserved
// between the frames it hands out -- keeps the pattern the rig wrote there
// (a write that escapes the guest-pointer checks lands there, in the
// guest's own RAM or in a hypervisor structure, which ASan does not see:
// machine memory is one host allocation).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "arch/x86/vmx/exit_handlers.hpp"
#include "arch/x86/vmx/exit_info.hpp"
#include "arch/x86/vmx/guest_state.hpp"
#include "arch/x86/vmx/shadow_paging.hpp"
#include "arch/x86/vmx/vmcs.hpp"
#include "arch/x86/vmx/vmcs_setup.hpp"
#include "arch/x86/vmx/vmx_cpu_setup.hpp"
#include "core/domain.hpp"
#include "core/vcpu.hpp"
#include "hal/memory.hpp"
#include "hal/vmx.hpp"
#include "mm/heap.hpp"
#include "public/xen.hpp"
#include "tests/sim_parts.hpp"
#include "xen/hypercall.hpp"
#include "xen/xen_domain.hpp"

using namespace xeno;

namespace {

constexpr u64 kMachineBytes = 3u << 20;
constexpr u64 kGuestRamMb = 1;
constexpr u64 kGuestRamBytes = kGuestRamMb << 20;
constexpr u32 kVmcallLength = 3;
constexpr u64 kStartRip = 0x9000;
// A preempted call continues with its arguments moved on (the rest of a
// console write, a memory_op's next extent, ...); the longest documented
// one is a 16 MiB console write, 256 bytes a step. A continuation that
// leaves the guest's registers as they were would never end.
constexpr u32 kMaxContinuations = (16u << 20) / 256 + 64;
// Decoy ranges the frame allocator must leave alone, spread over machine
// memory above the first MiB so that the domain's frames lie between them.
constexpr u64 kDecoyRanges = 10, kDecoyBytes = 4 * kPageSize;
constexpr u64 kDecoyStride = ((kMachineBytes - (1u << 20)) / kDecoyRanges) & ~u64{kPageSize - 1};
constexpr u64 decoy_start(u64 i) { return (1u << 20) + i * kDecoyStride; }

// The rig's page tables in guest RAM (identity maps of the first MiB, and
// the same again at a kernel-half alias).
constexpr u64 kPml4 = 0x1000, kPdpt64 = 0x2000, kPd64 = 0x3000, kPt64 = 0x4000;
constexpr u64 kPaePdpt = 0x5000, kPaePd = 0x6000;
constexpr u64 kPd32 = 0x7000, kPt32 = 0x8000;

// Segment access rights (SDM Vol. 3C 25.4.1).
constexpr u32 kCode64Ar = 0xa09b, kCode32Ar = 0xc09b, kDataAr = 0xc093;
constexpr u64 kCr0Pe = 1, kCr0Wp = 1u << 16, kCr0Pg = 1u << 31, kCr0Et = 1u << 4, kCr0Ne = 1u << 5;
constexpr u64 kCr4Pse = 1u << 4, kCr4Pae = 1u << 5;
constexpr u64 kEferLme = 1u << 8, kEferLma = 1u << 10, kEferNxe = 1u << 11;

constexpr u64 kFrames = kMachineBytes >> kPageShift;
enum class FrameKind : u8 { MANAGED, BITMAP, DECOY };
FrameKind g_frame_kind[kFrames];
bool g_frames_classified = false;

u8 decoy_byte(u64 machine_address) { return static_cast<u8>((machine_address * 0x9e3779b1u) >> 13) | 0x01; }

[[noreturn]] void fail(const char* what, u64 a = 0, u64 b = 0)
{
    std::fprintf(stderr, "fuzz-hypercall: %s (%#llx, %#llx)\n", what, static_cast<unsigned long long>(a),
                 static_cast<unsigned long long>(b));
    std::abort();
}

// The operand reader: a short input reads as zeros past its end.
struct Reader {
    const u8* data;
    std::size_t size;
    std::size_t at = 0;
    bool done() const { return at >= size; }
    u64 take(unsigned bytes)
    {
        u64 v = 0;
        for (unsigned i = 0; i < bytes; ++i) v |= u64{at < size ? data[at++] : u8{0}} << (8 * i);
        return v;
    }
};

bool is_xen_errno(i64 e)
{
    using namespace xen::err;
    switch (e) {
    case XEN_EPERM: case XEN_ENOENT: case XEN_ESRCH: case XEN_EIO: case XEN_ENXIO: case XEN_E2BIG:
    case XEN_ENOEXEC: case XEN_EBADF: case XEN_ECHILD: case XEN_EAGAIN: case XEN_ENOMEM: case XEN_EACCES:
    case XEN_EFAULT: case XEN_EBUSY: case XEN_EEXIST: case XEN_EXDEV: case XEN_ENODEV: case XEN_ENOTDIR:
    case XEN_EISDIR: case XEN_EINVAL: case XEN_ENFILE: case XEN_EMFILE: case XEN_ENOSPC: case XEN_EROFS:
    case XEN_EMLINK: case XEN_EDOM: case XEN_ERANGE: case XEN_EDEADLK: case XEN_ENAMETOOLONG: case XEN_ENOLCK:
    case XEN_ENOSYS: case XEN_ENOTEMPTY: case XEN_ENODATA: case XEN_ETIME: case XEN_EBADMSG: case XEN_EOVERFLOW:
    case XEN_EILSEQ: case XEN_ENOTSOCK: case XEN_EMSGSIZE: case XEN_EOPNOTSUPP: case XEN_EADDRINUSE:
    case XEN_EADDRNOTAVAIL: case XEN_ENOBUFS: case XEN_EISCONN: case XEN_ENOTCONN: case XEN_ETIMEDOUT:
    case XEN_ECONNREFUSED: return true;
    default: return false;  // EINTR and ERESTART are the hypervisor's own, never a guest's result
    }
}

class Rig {
public:
    Rig(sim::MachineMemory& memory, const u8* data, std::size_t size) : memory_(memory), in_{data, size} {}

    void run()
    {
        const u8 setup = static_cast<u8>(in_.take(1));
        MemoryRegion regions[1] = {MemoryRegion{0, kMachineBytes, MemoryRegion::Type::USABLE}};
        mm::HpaRange decoys[kDecoyRanges];
        for (u64 i = 0; i < kDecoyRanges; ++i) decoys[i] = {Hpa{decoy_start(i)}, Hpa{decoy_start(i) + kDecoyBytes}};
        // memory_zeroed: the rig zeroes what an input used (clear_used): far
        // cheaper than the allocator's zeroing loop under coverage tracing.
        if (frames_.init(regions, 1, decoys, kDecoyRanges, &hal::machine_to_virt, true) != Status::OK)
            fail("frame allocator");
        {
            const mm::HeapScope heap_scope(frames_);
            vmx::vmcs_access_failures() = 0;
            vmx::VmxCaps caps;
            if (vmx::vmx_cpu_enable(frames_, caps, vmx::CapsLog::QUIET) != Status::OK) fail("VMXON");
            run_domain(setup, caps);
            vmx::vmx_cpu_disable();
            if (vmx::vmcs_access_failures()) fail("a VMREAD/VMWRITE failed", vmx::vmcs_last_failed_encoding());
        }
        clear_used();
    }

private:
    struct Vcpus {
        Vcpu* v[2] = {};
        u32 count = 0;
        ~Vcpus()
        {
            while (count) destroy(v[--count]);
        }
    };

    void run_domain(u8 setup, const vmx::VmxCaps& caps)
    {
        Options opts;
        opts.guest_mem_mb = kGuestRamMb;
        opts.smp = (setup & 2) ? 2 : 1;
        Domain domain(opts);
        if (domain.build_memory(frames_, kGuestRamBytes) != Status::OK) fail("guest RAM");
        domain_ = &domain;
        // Console input for console_io read and the console ring.
        static const u8 kSerialInput[] = "fuzz console input\n";
        domain.attach_serial_input(kSerialInput, sizeof kSerialInput - 1);
        Vcpus vcpus;
        for (u32 i = 0; i < opts.smp; ++i) {
            Result<Vcpu*> made = create<Vcpu>(domain, caps, i);
            if (!made.ok()) fail("no heap for a vcpu");
            Vcpu& v = *made.value();
            vcpus.v[vcpus.count++] = &v;
            v.paging = (setup & 1) ? GuestPaging::SHADOW : GuestPaging::EPT;
            v.shadow_max_pages = 64;
            if (domain.add_vcpu(v) != Status::OK) fail("add_vcpu");
        }
        // The APs' VMCSs first: vcpu 0's is left current.
        for (u32 i = opts.smp; i-- > 0;) {
            vmx::GuestStart start;
            start.mode = vmx::GuestStart::Mode::FLAT32;
            start.ip = kStartRip;
            if (vmx::vmcs_setup(*vcpus.v[i], frames_, start) != Status::OK) fail("vmcs_setup", i);
        }
        write_page_tables();
        current_ = vcpus.v[0];
        mode_ = (setup >> 2) & 3;
        for (u32 i = opts.smp; i-- > 0;) {
            select(*vcpus.v[i]);
            set_mode(mode_, 0);
        }

        u32 ops = 0;
        while (!in_.done() && ops++ < 256) step(vcpus);

        check_decoy();
        check_end(domain);
        domain_ = nullptr;
        current_ = nullptr;
    }

    void select(Vcpu& v)
    {
        if (hal::vmptrld(v.vmcs) != hal::VmxResult::SUCCEED) fail("VMPTRLD");
        current_ = &v;
    }

    // Where guest-physical `gpa` is, or null: a frame the guest gave back
    // (memory_op decrease_reservation) is no longer there.
    u8* guest(u64 gpa)
    {
        const Result<Hpa> h = domain_->p2m().translate(Gpa{gpa});
        return h.ok() ? static_cast<u8*>(hal::machine_to_virt(h.value())) : nullptr;
    }
    // Guest RAM [gpa, gpa + length) page by page (the range lies in RAM); a
    // page the guest gave back is passed with null (a guest write there would
    // fault), so the input is consumed all the same.
    template <class Piece>
    void for_guest_range(u64 gpa, u64 length, Piece&& piece)
    {
        while (length) {
            const u64 n = std::min<u64>(length, kPageSize - (gpa & (kPageSize - 1)));
            piece(guest(gpa), n);
            gpa += n;
            length -= n;
        }
    }
    void put64(u64 gpa, u64 v) { std::memcpy(guest(gpa), &v, 8); }
    void put32(u64 gpa, u32 v) { std::memcpy(guest(gpa), &v, 4); }

    void write_page_tables()
    {
        constexpr u64 kRw = 0x3;  // present, writable (supervisor)
        put64(kPml4, kPdpt64 | kRw);
        put64(kPml4 + 256 * 8, kPdpt64 | kRw);  // 0xffff800000000000: the same again
        put64(kPdpt64, kPd64 | kRw);
        put64(kPd64, kPt64 | kRw);
        u64* pt64 = reinterpret_cast<u64*>(guest(kPt64));
        for (u64 i = 0; i < kGuestRamBytes >> kPageShift; ++i) pt64[i] = (i << kPageShift) | kRw;
        for (u64 i = 0; i < 4; ++i) put64(kPaePdpt + i * 8, i == 0 || i == 3 ? (kPaePd | 1) : 0);
        put64(kPaePd, kPt64 | kRw);
        put32(kPd32, static_cast<u32>(kPt32 | kRw));
        put32(kPd32 + 0x300 * 4, static_cast<u32>(kPt32 | kRw));  // 0xc0000000: the same again
        u32* pt32 = reinterpret_cast<u32*>(guest(kPt32));
        for (u64 i = 0; i < kGuestRamBytes >> kPageShift; ++i) pt32[i] = static_cast<u32>((i << kPageShift) | kRw);
    }

    // Mode bits 1:0: 0 64-bit (4-level paging), 1 32-bit PAE paging, 2 32-bit
    // paging, 3 32-bit protected mode without paging; bit 2: CPL 3; bit 3:
    // compatibility mode (long mode, CS.L clear); bit 4: CR0.WP clear; bit 5: EFER.NXE.
    void set_mode(u8 mode, u32 cr3)
    {
        Vcpu& v = *current_;
        const u8 paging = mode & 3;
        u64 cr0 = kCr0Pe | kCr0Et | kCr0Ne | ((mode & 16) ? 0 : kCr0Wp);
        u64 cr4 = 0, efer = (mode & 32) ? kEferNxe : 0;
        u64 root = cr3;
        u32 cs_ar = kCode32Ar;
        switch (paging) {
        case 0:
            cr0 |= kCr0Pg;
            cr4 |= kCr4Pae;
            efer |= kEferLme | kEferLma;
            cs_ar = (mode & 8) ? kCode32Ar : kCode64Ar;
            if (!root) root = kPml4;
            break;
        case 1:
            cr0 |= kCr0Pg;
            cr4 |= kCr4Pae;
            if (!root) root = kPaePdpt;
            break;
        case 2:
            cr0 |= kCr0Pg;
            cr4 |= kCr4Pse;
            if (!root) root = kPd32;
            break;
        default: break;
        }
        // The views the handlers read: both the real value and the read
        // shadow hold the guest's, whatever the masks own.
        (void)vmx::vmcs_write(vmx::field::GUEST_CR0, cr0);
        (void)vmx::vmcs_write(vmx::field::CR0_READ_SHADOW, cr0);
        (void)vmx::vmcs_write(vmx::field::GUEST_CR4, cr4);
        (void)vmx::vmcs_write(vmx::field::CR4_READ_SHADOW, cr4);
        vmx::set_guest_efer_view(v, efer);
        (void)vmx::vmcs_write(vmx::field::GUEST_CS_AR_BYTES, cs_ar);
        (void)vmx::vmcs_write(vmx::field::GUEST_SS_AR_BYTES, kDataAr | ((mode & 4) ? 0x60 : 0));
        (void)vmx::vmcs_write(vmx::field::GUEST_RFLAGS, 0x2);
        if (v.paging == GuestPaging::EPT) {
            (void)vmx::vmcs_write(vmx::field::GUEST_CR3, root);
        } else {
            v.guest_cr3 = root;
            const paging::PagingState s = vmx::guest_paging_state(v);
            if (!vmx::load_guest_pdptes(v, s))
                for (u64& p : v.pae_pdptes) p = 0;  // as a MOV CR3 that #GPs would leave them: none present
        }
    }

    void step(Vcpus& vcpus)
    {
        switch (in_.take(1) & 7) {
        case 0: hypercall(); break;
        case 1: {
            const u64 gpa = in_.take(4) % kGuestRamBytes;
            u64 length = in_.take(2);
            if (length > kGuestRamBytes - gpa) length = kGuestRamBytes - gpa;
            if (length > in_.size - in_.at) length = in_.size - in_.at;
            for_guest_range(gpa, length, [&](u8* p, u64 n) {
                if (p) std::memcpy(p, in_.data + in_.at, n);
                in_.at += n;
            });
            break;
        }
        case 2: {
            mode_ = static_cast<u8>(in_.take(1));
            set_mode(mode_, static_cast<u32>(in_.take(4)));
            break;
        }
        case 3: {
            const u64 advance = in_.take(8);
            now_ = now_ + advance < now_ ? ~u64{0} : now_ + advance;
            domain_->timers().run_expired(now_);
            break;
        }
        case 4: {
            const u32 id = static_cast<u32>(in_.take(1)) % vcpus.count;
            select(*vcpus.v[id]);
            set_mode(mode_, 0);
            break;
        }
        case 5: (void)xen::write_hypercall_page_msr(*current_, in_.take(8)); break;
        case 6: {
            xen::XenDomain& xd = domain_->xen();
            if (!xd.ready()) break;
            const u32 id = current_->id();
            (void)xd.wakeup_pending(id);
            xd.vcpu_resumed(id);
            xd.sync_gsi_callback();
            (void)xd.callback_vector(id);
            break;
        }
        default: {
            const u64 gpa = in_.take(4) % kGuestRamBytes;
            u64 length = in_.take(2);
            const u8 byte = static_cast<u8>(in_.take(1));
            if (length > kGuestRamBytes - gpa) length = kGuestRamBytes - gpa;
            for_guest_range(gpa, length, [&](u8* p, u64 n) {
                if (p) std::memset(p, byte, n);
            });
            break;
        }
        }
    }

    void hypercall()
    {
        Vcpu& v = *current_;
        const u64 number = in_.take(1);
        u64 args[5];
        for (u64& a : args) a = in_.take(8);
        const bool long_mode = vmx::guest_in_64bit_mode(v);
        static constexpr unsigned kArgs64[5] = {7, 6, 2, 10, 8}, kArgs32[5] = {3, 1, 2, 6, 7};
        // Garbage above bit 31 of a 32-bit caller's registers must not matter.
        v.regs.gpr[0] = long_mode ? number : (number | 0xdead000000000000ull);
        for (unsigned i = 0; i < 5; ++i) v.regs.gpr[long_mode ? kArgs64[i] : kArgs32[i]] = args[i];

        vmx::ExitInfo exit;
        exit.reason = 18;  // VMCALL
        exit.reason_field = 18;
        exit.instruction_length = kVmcallLength;
        for (u32 attempt = 0;; ++attempt) {
            exit.rip = vmx::vmcs_read(vmx::field::GUEST_RIP);
            const u64 rip_before = exit.rip;
            u64 regs_before[16];
            std::memcpy(regs_before, v.regs.gpr, sizeof regs_before);
            vmx::handle_vmcall(v, exit);
            const u64 rip_after = vmx::vmcs_read(vmx::field::GUEST_RIP);
            if (rip_after == rip_before) {
                // A continuation (RIP stays: the guest executes the VMCALL again).
                if (std::memcmp(regs_before, v.regs.gpr, sizeof regs_before) == 0)
                    fail("a hypercall continued with its registers unchanged", number);
                if (attempt == kMaxContinuations) fail("a hypercall preempted itself too many times", number);
                continue;
            }
            if (rip_after != rip_before + kVmcallLength)
                fail("RIP moved by other than the VMCALL", rip_before, rip_after);
            break;
        }
        const u64 rax = v.regs.gpr[0];
        // FUZZ_HYPERCALL_TRACE=1: each call and its result on stderr (to see how deep a seed reaches).
        static const bool trace = std::getenv("FUZZ_HYPERCALL_TRACE") != nullptr;
        if (trace)
            std::fprintf(stderr, "vcpu %u %s hypercall %llu (%#llx, %#llx, %#llx) = %lld\n", v.id(),
                         long_mode ? "64" : "32", static_cast<unsigned long long>(number),
                         static_cast<unsigned long long>(args[0]), static_cast<unsigned long long>(args[1]),
                         static_cast<unsigned long long>(args[2]),
                         static_cast<long long>(long_mode ? static_cast<i64>(rax) : i64{static_cast<i32>(rax)}));
        if (!long_mode && (rax >> 32) != 0) fail("a 32-bit caller's RAX has bits above 31", rax, number);
        const i64 result = long_mode ? static_cast<i64>(rax) : static_cast<i64>(static_cast<i32>(rax));
        if (vmx::guest_cpl(v) != 0 && result != -xen::err::XEN_EPERM) fail("user mode got other than -EPERM", rax);
        if (result < 0 && !is_xen_errno(-result))
            fail("a result that is no Xen errno", static_cast<u64>(result), number);
        // Documented successes that are not 0: a version, a page size, a
        // count of bytes or extents, a frame number, a watchdog id, is_up's 1.
        // Everything else (hvm_op, grant_table_op, event_channel_op, ...)
        // returns its results through memory and 0 itself.
        if (result > 0) {
            switch (number) {
            case xen::hypercall::xen_version:
            case xen::hypercall::console_io:
            case xen::hypercall::memory_op:
            case xen::hypercall::sched_op: break;
            case xen::hypercall::vcpu_op:
                if ((args[0] & (long_mode ? ~u64{0} : 0xffffffff)) == xen::vcpuop::is_up && result == 1) break;
                fail("vcpu_op succeeded with a positive value", static_cast<u64>(result), args[0]);
            default: fail("a positive result from a hypercall without one", static_cast<u64>(result), number);
            }
        }
    }

    // Machine memory that is not the domain's: the low megabyte, which the
    // allocator never hands out, and the decoy ranges reserved between the
    // frames it does (the guest's RAM, the hypervisor's structures). Each
    // byte holds decoy_byte(address) unless something wrote there.
    void check_decoy()
    {
        classify_frames();
        for (u64 frame = 0; frame < kFrames; ++frame) {
            if (g_frame_kind[frame] != FrameKind::DECOY) continue;
            const u8* page = memory_.data() + (frame << kPageShift);
            if (std::memcmp(page, pattern_page(frame), kPageSize) != 0) {
                for (u64 i = 0; i < kPageSize; ++i)
                    if (page[i] != decoy_byte((frame << kPageShift) + i))
                        fail("machine memory outside the domain changed", (frame << kPageShift) + i, page[i]);
            }
        }
    }

    // Which frames are which: the same for every input (the allocator is
    // built the same way), so found once.
    void classify_frames()
    {
        if (g_frames_classified) return;
        const u64 bitmap = frames_.bitmap_start().value() >> kPageShift;
        for (u64 frame = 0; frame < kFrames; ++frame) {
            if (frames_.is_managed(frame))
                g_frame_kind[frame] = FrameKind::MANAGED;
            else if (frame >= bitmap && frame < bitmap + frames_.bitmap_frames())
                g_frame_kind[frame] = FrameKind::BITMAP;
            else
                g_frame_kind[frame] = FrameKind::DECOY;
        }
        g_frames_classified = true;
    }

    // Every frame the allocator may hand out reads zero again for the next input.
    void clear_used()
    {
        classify_frames();
        for (u64 frame = 0; frame < kFrames; ++frame)
            if (g_frame_kind[frame] == FrameKind::MANAGED)
                std::memset(memory_.data() + (frame << kPageShift), 0, kPageSize);
    }

    void check_end(Domain& d)
    {
        if (d.end_kind() != DomainEnd::CRASHED) return;
        const char* why = d.end_reason();
        // The guest's own ways to end as crashed.
        if (std::strstr(why, "SCHEDOP_shutdown") || std::strstr(why, "watchdog")) return;
        std::fprintf(stderr, "fuzz-hypercall: the domain ended: %s\n", why);
        std::abort();
    }

public:
    static const u8* pattern_page(u64 frame);

private:
    sim::MachineMemory& memory_;
    Reader in_;
    mm::FrameAllocator frames_;
    Domain* domain_ = nullptr;
    Vcpu* current_ = nullptr;
    u8 mode_ = 0;
    u64 now_ = 0;
};

// The whole machine's pattern, computed once.
u8* g_pattern = nullptr;
const u8* Rig::pattern_page(u64 frame) { return g_pattern + (frame << kPageShift); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static test::SimParts* parts = [] {
        auto* p = new test::SimParts("skylake", kMachineBytes);
        g_pattern = new u8[kMachineBytes];
        for (u64 a = 0; a < kMachineBytes; ++a) g_pattern[a] = decoy_byte(a);
        // The pattern where the allocator never hands out (zero elsewhere: clear_used).
        std::memcpy(p->memory.data(), g_pattern, mm::FrameAllocator::kLowReservedEnd);
        for (u64 i = 0; i < kDecoyRanges; ++i)
            std::memcpy(p->memory.data() + decoy_start(i), g_pattern + decoy_start(i), kDecoyBytes);
        return p;
    }();
    if (size < 1) return 0;
    Rig rig(parts->memory, data, size);
    rig.run();
    return 0;
}
