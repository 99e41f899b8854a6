// Checks on the guest-state area (SDM Vol. 3C, 27.3.1): failure is a VM-entry
// failure, exit reason 33 ("VM-entry failure due to invalid guest state")
// with the exit qualification of 27.8 (0, 2 PDPTEs, 3 NMI injection with STI
// blocking, 4 VMCS link pointer).
#include "arch/x86/vmx/vmcs_field.hpp"
#include "sim/platform/machine_memory.hpp"
#include "sim/vmx-model/entry_checks.hpp"
#include "sim/vmx-model/vmcs_store.hpp"

namespace xeno::sim {

namespace {
using namespace xeno::vmx;
using R = EntryCheckResult;

constexpr u64 kCr0Pe = u64{1} << 0;
constexpr u64 kCr0Pg = u64{1} << 31;
constexpr u64 kCr4Pae = u64{1} << 5;
constexpr u64 kCr4Pcide = u64{1} << 17;
constexpr u64 kEferLme = u64{1} << 8;
constexpr u64 kEferLma = u64{1} << 10;
constexpr u64 kRflagsReservedZero = ~u64{0x3fffff} | (u64{1} << 15) | (u64{1} << 5) | (u64{1} << 3);
constexpr u64 kRflagsFixed1 = u64{1} << 1;
constexpr u64 kRflagsTf = u64{1} << 8;
constexpr u64 kRflagsIf = u64{1} << 9;
constexpr u64 kRflagsVm = u64{1} << 17;
// IA32_DEBUGCTL: bits 5:2 and 63:16 reserved.
constexpr u64 kDebugctlReserved = ~u64{0xffc3};
constexpr u64 kDebugctlBtf = u64{1} << 1;
// Pending debug exceptions: B3-B0 (3:0), enabled breakpoint (12), BS (14), RTM (16).
constexpr u64 kPendingDbgReserved = ~u64{0x1500f};
constexpr u64 kPendingDbgBs = u64{1} << 14;

enum Seg : unsigned { ES = 0, CS, SS, DS, FS, GS, LDTR, TR };

struct Segment {
    u16 selector;
    u64 base;
    u32 limit;
    u32 ar;
    bool usable() const { return !(ar & ar::UNUSABLE); }
    u32 type() const { return ar & ar::TYPE_MASK; }
    u32 dpl() const { return (ar & ar::DPL_MASK) >> ar::DPL_SHIFT; }
    u32 rpl() const { return selector & 3; }
    bool s() const { return ar & ar::S; }
    bool present() const { return ar & ar::P; }
    // Limit and granularity agree (27.3.1.2): G = 0 if any of limit[11:0]
    // is 0, G = 1 if any of limit[31:20] is 1.
    bool granularity_ok() const
    {
        const bool g = ar & ar::G;
        if ((limit & 0xfff) != 0xfff && g) return false;
        if ((limit >> 20) != 0 && !g) return false;
        return true;
    }
    bool reserved_ok() const { return (ar & 0xf00) == 0 && (ar >> 17) == 0; }
};

Segment read_segment(const VmcsStore& v, unsigned i)
{
    return {static_cast<u16>(v.get(0x0800 + 2 * i)), v.get(0x6806 + 2 * i), static_cast<u32>(v.get(0x4800 + 2 * i)),
            static_cast<u32>(v.get(0x4814 + 2 * i))};
}

struct GuestMode {
    bool ia32e;         // "IA-32e mode guest" entry control
    bool unrestricted;  // "unrestricted guest" (with secondary controls active)
    bool v86;           // RFLAGS.VM
    bool pe;            // CR0.PE
};

R check_control_registers(const VmcsStore& v, const CpuProfile& p, const GuestMode& m)
{
    const VmxCapabilities& cap = p.vmx;
    const u32 entryc = v.get(field::VM_ENTRY_CONTROLS);
    const u64 cr0 = v.get(field::GUEST_CR0), cr4 = v.get(field::GUEST_CR4);
    u64 fixed0 = cap.cr0_fixed0;
    if (m.unrestricted) fixed0 &= ~(kCr0Pe | kCr0Pg);  // unrestricted guest relaxes PE and PG
    if ((cr0 & fixed0) != fixed0 || (cr0 & ~cap.cr0_fixed1 & 0xffffffff) || (cr0 >> 32))
        return R::bad_guest("GUEST_CR0 vs IA32_VMX_CR0_FIXED0/1");
    if ((cr0 & kCr0Pg) && !(cr0 & kCr0Pe)) return R::bad_guest("GUEST_CR0.PG without PE");
    if ((cr4 & cap.cr4_fixed0) != cap.cr4_fixed0 || (cr4 & ~cap.cr4_fixed1))
        return R::bad_guest("GUEST_CR4 vs IA32_VMX_CR4_FIXED0/1");
    if ((entryc & entry_ctl::LOAD_DEBUG_CONTROLS) && (v.get(field::GUEST_IA32_DEBUGCTL) & kDebugctlReserved))
        return R::bad_guest("GUEST_IA32_DEBUGCTL reserved bits");
    if (m.ia32e && (!(cr0 & kCr0Pg) || !(cr4 & kCr4Pae))) return R::bad_guest("IA-32e mode guest needs CR0.PG and CR4.PAE");
    if (!m.ia32e && (cr4 & kCr4Pcide)) return R::bad_guest("CR4.PCIDE outside IA-32e mode");
    if (v.get(field::GUEST_CR3) >> p.phys_addr_width) return R::bad_guest("GUEST_CR3 beyond physical-address width");
    if ((entryc & entry_ctl::LOAD_DEBUG_CONTROLS) && (v.get(field::GUEST_DR7) >> 32))
        return R::bad_guest("GUEST_DR7 bits 63:32");
    if (!is_canonical(v.get(field::GUEST_SYSENTER_ESP), p.linear_addr_width) ||
        !is_canonical(v.get(field::GUEST_SYSENTER_EIP), p.linear_addr_width))
        return R::bad_guest("GUEST_SYSENTER_ESP/EIP not canonical");
    if ((entryc & entry_ctl::LOAD_PAT) && !pat_valid(v.get(field::GUEST_IA32_PAT))) return R::bad_guest("GUEST_IA32_PAT");
    if (entryc & entry_ctl::LOAD_EFER) {
        const u64 efer = v.get(field::GUEST_IA32_EFER);
        if (!efer_reserved_clear(efer)) return R::bad_guest("GUEST_IA32_EFER reserved bits");
        if (((efer & kEferLma) != 0) != m.ia32e) return R::bad_guest("GUEST_IA32_EFER.LMA vs IA-32e mode guest");
        if ((cr0 & kCr0Pg) && ((efer & kEferLme) != 0) != m.ia32e)
            return R::bad_guest("GUEST_IA32_EFER.LME vs IA-32e mode guest");
    }
    return R::pass();
}

R check_v86_segment(const Segment& s)
{
    if (s.base != u64{s.selector} << 4) return R::bad_guest("virtual-8086: base != selector << 4");
    if (s.limit != 0xffff) return R::bad_guest("virtual-8086: limit != 0xffff");
    if (s.ar != 0xf3) return R::bad_guest("virtual-8086: access rights != 0xf3");
    return R::pass();
}

R check_segments(const VmcsStore& v, const CpuProfile& p, const GuestMode& m)
{
    Segment seg[8];
    for (unsigned i = 0; i < 8; ++i) seg[i] = read_segment(v, i);
    const Segment &cs = seg[CS], &ss = seg[SS], &tr = seg[TR], &ldtr = seg[LDTR];

    // Selectors.
    if (tr.selector & 4) return R::bad_guest("TR selector TI flag");
    if (ldtr.usable() && (ldtr.selector & 4)) return R::bad_guest("LDTR selector TI flag");
    if (!m.v86 && !m.unrestricted && ss.rpl() != cs.rpl()) return R::bad_guest("SS.RPL != CS.RPL");

    if (m.v86) {
        for (unsigned i : {CS, SS, DS, ES, FS, GS})
            if (R r = check_v86_segment(seg[i]); !r.ok()) return r;
    } else {
        // Bases.
        if (!is_canonical(seg[FS].base, p.linear_addr_width) || !is_canonical(seg[GS].base, p.linear_addr_width))
            return R::bad_guest("FS/GS base not canonical");
        if (cs.base >> 32) return R::bad_guest("CS base bits 63:32");
        for (unsigned i : {SS, DS, ES})
            if (seg[i].usable() && (seg[i].base >> 32)) return R::bad_guest("SS/DS/ES base bits 63:32");

        // CS.
        const u32 cst = cs.type();
        const bool cs_ok_type = cst == 9 || cst == 11 || cst == 13 || cst == 15 || (m.unrestricted && cst == 3);
        if (!cs_ok_type) return R::bad_guest("CS type");
        if (!cs.s()) return R::bad_guest("CS descriptor type (S) 0");
        if (cst == 3 && cs.dpl() != 0) return R::bad_guest("CS DPL with data type (unrestricted guest)");
        if ((cst == 9 || cst == 11) && cs.dpl() != ss.dpl()) return R::bad_guest("non-conforming CS.DPL != SS.DPL");
        if ((cst == 13 || cst == 15) && cs.dpl() > ss.dpl()) return R::bad_guest("conforming CS.DPL > SS.DPL");
        if (!cs.present()) return R::bad_guest("CS not present");
        if (!cs.reserved_ok()) return R::bad_guest("CS access-rights reserved bits");
        if (m.ia32e && (cs.ar & ar::L) && (cs.ar & ar::DB)) return R::bad_guest("64-bit CS with D/B set");
        if (!cs.granularity_ok()) return R::bad_guest("CS limit vs granularity");

        // SS.
        if (!m.unrestricted && ss.dpl() != ss.rpl()) return R::bad_guest("SS.DPL != SS.RPL");
        if ((cst == 3 || !m.pe) && ss.dpl() != 0) return R::bad_guest("SS.DPL not 0 (real mode or data CS)");
        if (ss.usable()) {
            if (ss.type() != 3 && ss.type() != 7) return R::bad_guest("SS type");
            if (!ss.s()) return R::bad_guest("SS descriptor type (S) 0");
            if (!ss.present()) return R::bad_guest("SS not present");
            if (!ss.reserved_ok()) return R::bad_guest("SS access-rights reserved bits");
            if (!ss.granularity_ok()) return R::bad_guest("SS limit vs granularity");
        }

        // DS, ES, FS, GS.
        for (unsigned i : {DS, ES, FS, GS}) {
            const Segment& s = seg[i];
            if (!s.usable()) continue;
            if (!(s.type() & 1)) return R::bad_guest("data segment not accessed");
            if ((s.type() & 8) && !(s.type() & 2)) return R::bad_guest("code segment in data register not readable");
            if (!s.s()) return R::bad_guest("data segment descriptor type (S) 0");
            if (!m.unrestricted && s.type() <= 11 && s.dpl() < s.rpl()) return R::bad_guest("data segment DPL < RPL");
            if (!s.present()) return R::bad_guest("data segment not present");
            if (!s.reserved_ok()) return R::bad_guest("data segment access-rights reserved bits");
            if (!s.granularity_ok()) return R::bad_guest("data segment limit vs granularity");
        }
    }

    // TR and LDTR in every mode.
    if (!is_canonical(tr.base, p.linear_addr_width)) return R::bad_guest("TR base not canonical");
    if (!(tr.type() == 11 || (!m.ia32e && tr.type() == 3))) return R::bad_guest("TR type");
    if (tr.s()) return R::bad_guest("TR descriptor type (S) 1");
    if (!tr.present()) return R::bad_guest("TR not present");
    if (!tr.reserved_ok()) return R::bad_guest("TR access-rights reserved bits");
    if (!tr.granularity_ok()) return R::bad_guest("TR limit vs granularity");
    if (!tr.usable()) return R::bad_guest("TR unusable");
    if (ldtr.usable()) {
        if (!is_canonical(ldtr.base, p.linear_addr_width)) return R::bad_guest("LDTR base not canonical");
        if (ldtr.type() != 2) return R::bad_guest("LDTR type");
        if (ldtr.s()) return R::bad_guest("LDTR descriptor type (S) 1");
        if (!ldtr.present()) return R::bad_guest("LDTR not present");
        if (!ldtr.reserved_ok()) return R::bad_guest("LDTR access-rights reserved bits");
        if (!ldtr.granularity_ok()) return R::bad_guest("LDTR limit vs granularity");
    }
    return R::pass();
}

R check_descriptor_tables_rip_rflags(const VmcsStore& v, const CpuProfile& p, const GuestMode& m)
{
    // 27.3.1.3.
    if (!is_canonical(v.get(field::GUEST_GDTR_BASE), p.linear_addr_width) ||
        !is_canonical(v.get(field::GUEST_IDTR_BASE), p.linear_addr_width))
        return R::bad_guest("GDTR/IDTR base not canonical");
    if ((v.get(field::GUEST_GDTR_LIMIT) >> 16) || (v.get(field::GUEST_IDTR_LIMIT) >> 16))
        return R::bad_guest("GDTR/IDTR limit bits 31:16");
    // 27.3.1.4.
    const u64 rip = v.get(field::GUEST_RIP);
    const bool cs_l = v.get(field::GUEST_CS_AR_BYTES) & ar::L;
    if (!(m.ia32e && cs_l) && (rip >> 32)) return R::bad_guest("RIP bits 63:32 outside 64-bit mode");
    if (m.ia32e && cs_l && !is_canonical(rip, p.linear_addr_width)) return R::bad_guest("RIP not canonical");
    const u64 rflags = v.get(field::GUEST_RFLAGS);
    if ((rflags & kRflagsReservedZero) || !(rflags & kRflagsFixed1)) return R::bad_guest("RFLAGS reserved bits");
    if ((rflags & kRflagsVm) && (m.ia32e || !m.pe)) return R::bad_guest("RFLAGS.VM in IA-32e mode or real mode");
    const u32 info = v.get(field::VM_ENTRY_INTR_INFO_FIELD);
    if ((info & intr_info::VALID) && ((info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT) == 0 &&
        !(rflags & kRflagsIf))
        return R::bad_guest("external-interrupt injection with RFLAGS.IF = 0");
    return R::pass();
}

bool activity_supported(u32 state, const CpuProfile& p)
{
    switch (static_cast<ActivityState>(state)) {
    case ActivityState::ACTIVE: return true;
    case ActivityState::HLT: return p.vmx.misc & misc_cap::ACTIVITY_HLT;
    case ActivityState::SHUTDOWN: return p.vmx.misc & misc_cap::ACTIVITY_SHUTDOWN;
    case ActivityState::WAIT_FOR_SIPI: return p.vmx.misc & misc_cap::ACTIVITY_WAIT_FOR_SIPI;
    }
    return false;
}

R check_non_register_state(const VmcsStore& v, const CpuProfile& p, const GuestMode& m, const EntryEnvironment& env)
{
    const u32 activity = v.get(field::GUEST_ACTIVITY_STATE);
    const u32 intr = v.get(field::GUEST_INTERRUPTIBILITY_INFO);
    const u32 info = v.get(field::VM_ENTRY_INTR_INFO_FIELD);
    const u32 entryc = v.get(field::VM_ENTRY_CONTROLS);
    const u32 pinc = v.get(field::PIN_BASED_VM_EXEC_CONTROL);
    const u64 rflags = v.get(field::GUEST_RFLAGS);
    const bool inject = info & intr_info::VALID;
    const u32 type = (info & intr_info::TYPE_MASK) >> intr_info::TYPE_SHIFT;
    const u32 vec = info & intr_info::VECTOR_MASK;
    const bool sti = intr & interruptibility::BLOCKING_BY_STI;
    const bool movss = intr & interruptibility::BLOCKING_BY_MOV_SS;

    // Activity state.
    if (!activity_supported(activity, p)) return R::bad_guest("activity state not supported");
    const u32 ss_dpl = (v.get(field::GUEST_SS_AR_BYTES) & ar::DPL_MASK) >> ar::DPL_SHIFT;
    if (activity == static_cast<u32>(ActivityState::HLT) && ss_dpl != 0) return R::bad_guest("HLT state with SS.DPL != 0");
    if ((sti || movss) && activity != static_cast<u32>(ActivityState::ACTIVE))
        return R::bad_guest("STI/MOV-SS blocking outside the active state");
    if (inject) {
        const bool ok_for_hlt = type == 0 || type == 2 || (type == 3 && (vec == vector::DB || vec == vector::MC)) ||
                                (type == 7 && vec == 0);
        const bool ok_for_shutdown = type == 2 || (type == 3 && vec == vector::MC);
        if (activity == static_cast<u32>(ActivityState::HLT) && !ok_for_hlt)
            return R::bad_guest("event injection into HLT state");
        if (activity == static_cast<u32>(ActivityState::SHUTDOWN) && !ok_for_shutdown)
            return R::bad_guest("event injection into shutdown state");
        if (activity == static_cast<u32>(ActivityState::WAIT_FOR_SIPI))
            return R::bad_guest("event injection into wait-for-SIPI state");
    }
    if ((entryc & entry_ctl::ENTRY_TO_SMM) && activity == static_cast<u32>(ActivityState::WAIT_FOR_SIPI))
        return R::bad_guest("wait-for-SIPI with entry to SMM");

    // Interruptibility state.
    if (intr & ~u32{0xf}) return R::bad_guest("interruptibility state reserved bits");
    if (sti && movss) return R::bad_guest("blocking by STI and by MOV SS");
    if (sti && !(rflags & kRflagsIf)) return R::bad_guest("blocking by STI with RFLAGS.IF = 0");
    if (inject && type == 0 && (sti || movss)) return R::bad_guest("external-interrupt injection while blocked");
    if (inject && type == 2 && movss) return R::bad_guest("NMI injection with blocking by MOV SS");
    if (!env.in_smm && (intr & interruptibility::BLOCKING_BY_SMI)) return R::bad_guest("SMI blocking outside SMM");
    if ((entryc & entry_ctl::ENTRY_TO_SMM) && !(intr & interruptibility::BLOCKING_BY_SMI))
        return R::bad_guest("entry to SMM without SMI blocking");
    if (inject && type == 2 && (pinc & pin::VIRTUAL_NMIS) && (intr & interruptibility::BLOCKING_BY_NMI))
        return R::bad_guest("NMI injection with virtual-NMI blocking");
    if (inject && type == 2 && sti) return R::bad_guest("NMI injection with blocking by STI", kEntryFailQualNmiInjection);

    // Pending debug exceptions.
    const u64 pending = v.get(field::GUEST_PENDING_DBG_EXCEPTIONS);
    if (pending & kPendingDbgReserved) return R::bad_guest("pending debug exceptions reserved bits");
    if (sti || movss || activity == static_cast<u32>(ActivityState::HLT)) {
        const bool tf = rflags & kRflagsTf;
        const bool btf = v.get(field::GUEST_IA32_DEBUGCTL) & kDebugctlBtf;
        const bool bs = pending & kPendingDbgBs;
        if (tf && !btf && !bs) return R::bad_guest("pending debug BS clear with TF set and BTF clear");
        if ((!tf || btf) && bs) return R::bad_guest("pending debug BS set with TF clear or BTF set");
    }

    // VMCS link pointer.
    const u64 link = v.get(field::VMCS_LINK_POINTER);
    if (link != ~u64{0}) {
        if ((link & 0xfff) || !p.phys_addr_valid(link)) return R::bad_guest("VMCS link pointer address", kEntryFailQualVmcsLink);
        if (env.memory) {
            const u32 rev = env.memory->contains(link, 4) ? env.memory->load<u32>(link) : 0xffffffff;
            const u32 procc = v.get(field::CPU_BASED_VM_EXEC_CONTROL);
            const bool shadowing = (procc & proc::ACTIVATE_SECONDARY_CONTROLS) &&
                                   (v.get(field::SECONDARY_VM_EXEC_CONTROL) & proc2::VMCS_SHADOWING);
            if ((rev & 0x7fffffff) != p.vmcs_revision()) return R::bad_guest("VMCS link pointer revision", kEntryFailQualVmcsLink);
            // With VMCS shadowing the link pointer names a shadow VMCS.
            if (shadowing && (rev >> 31) == 0) return R::bad_guest("VMCS link pointer shadow indicator", kEntryFailQualVmcsLink);
        }
    }
    (void)m;
    return R::pass();
}

// 27.3.1.6: PAE paging outside IA-32e mode loads the four PDPTEs (from the
// VMCS with EPT, from CR3 without). A present PDPTE must have its reserved
// bits (2:1, 8:5, 63:MAXPHYADDR) clear.
R check_pdptes(const VmcsStore& v, const CpuProfile& p, const GuestMode& m, const EntryEnvironment& env, bool ept)
{
    const u64 cr0 = v.get(field::GUEST_CR0), cr4 = v.get(field::GUEST_CR4);
    if (!(cr0 & kCr0Pg) || !(cr4 & kCr4Pae) || m.ia32e) return R::pass();
    u64 pdpte[4];
    if (ept) {
        pdpte[0] = v.get(field::GUEST_PDPTE0);
        pdpte[1] = v.get(field::GUEST_PDPTE1);
        pdpte[2] = v.get(field::GUEST_PDPTE2);
        pdpte[3] = v.get(field::GUEST_PDPTE3);
    } else {
        if (!env.memory) return R::pass();
        const u64 base = v.get(field::GUEST_CR3) & 0xffffffe0;
        if (!env.memory->contains(base, 32)) return R::bad_guest("PDPTEs outside machine memory", kEntryFailQualPdpte);
        for (unsigned i = 0; i < 4; ++i) pdpte[i] = env.memory->load<u64>(base + 8 * i);
    }
    const u64 reserved = 0x1e6 | ~p.phys_addr_mask();
    for (u64 e : pdpte)
        if ((e & 1) && (e & reserved)) return R::bad_guest("PDPTE reserved bits", kEntryFailQualPdpte);
    return R::pass();
}

}  // namespace

EntryCheckResult check_guest_state(const VmcsStore& v, const CpuProfile& p, const EntryEnvironment& env)
{
    const u32 procc = v.get(field::CPU_BASED_VM_EXEC_CONTROL);
    const u32 proc2c = (procc & proc::ACTIVATE_SECONDARY_CONTROLS) ? v.get(field::SECONDARY_VM_EXEC_CONTROL) : 0;
    GuestMode m{};
    m.ia32e = v.get(field::VM_ENTRY_CONTROLS) & entry_ctl::IA32E_MODE_GUEST;
    m.unrestricted = proc2c & proc2::UNRESTRICTED_GUEST;
    m.v86 = v.get(field::GUEST_RFLAGS) & kRflagsVm;
    m.pe = v.get(field::GUEST_CR0) & kCr0Pe;

    if (R r = check_control_registers(v, p, m); !r.ok()) return r;
    if (R r = check_segments(v, p, m); !r.ok()) return r;
    if (R r = check_descriptor_tables_rip_rflags(v, p, m); !r.ok()) return r;
    if (R r = check_non_register_state(v, p, m, env); !r.ok()) return r;
    return check_pdptes(v, p, m, env, proc2c & proc2::ENABLE_EPT);
}

}  // namespace xeno::sim
