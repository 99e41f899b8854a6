// Guest paging and EPT walks (see paging.hpp). Bit positions: SDM Vol. 3A
// Tables 4-4..4-20 (paging structures), Vol. 3C Tables 29-1..29-6 (EPT).
#include "sim/vmx-model/engine/paging.hpp"

#include "lib/bits.hpp"

namespace xeno::sim {
namespace {

constexpr u64 kMaxPhys = 52;
constexpr u64 kAddrMask = ((u64{1} << kMaxPhys) - 1) & ~u64{0xfff};

bool load64(MachineMemory& m, u64 a, u64* v)
{
    if (!m.contains(a, 8)) return false;
    *v = m.load<u64>(a);
    return true;
}

WalkResult no_memory(u64 gpa)
{
    WalkResult r;
    r.status = WalkStatus::NO_MEMORY;
    r.gpa = gpa;
    return r;
}

// Machine address of a guest-physical one, for the walker's own accesses to
// guest paging structures (gla_final = false in a violation).
bool gpa_to_machine(MachineMemory& m, const TranslationContext& c, u64 gpa, Access acc, bool gla_valid,
                    bool gla_final, u64* out, WalkResult* fail)
{
    WalkResult r = translate_guest_physical(m, c, gpa, acc, gla_valid, gla_final);
    if (r.status != WalkStatus::OK) {
        *fail = r;
        return false;
    }
    *out = r.machine_page | (gpa & 0xfff);
    return true;
}

}  // namespace

WalkResult translate_guest_physical(MachineMemory& m, const TranslationContext& c, u64 gpa, Access acc,
                                    bool gla_valid, bool gla_final)
{
    WalkResult r;
    if (!c.ept) {
        if (!m.contains(gpa & ~u64{0xfff}, 0x1000)) return no_memory(gpa);
        r.machine_page = gpa & ~u64{0xfff};
        r.writable = r.executable = true;
        return r;
    }
    const u64 access_bit = acc == Access::READ ? eptq::READ : acc == Access::WRITE ? eptq::WRITE : eptq::FETCH;
    u64 table = c.eptp & kAddrMask;
    u64 rwx = 7;  // logical AND of the R/W/X bits of the entries used so far
    for (int level = 4; level >= 1; --level) {
        const unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
        u64 e;
        if (!load64(m, table + 8 * bits(gpa, shift + 8, shift), &e)) return no_memory(gpa);
        const u64 perm = e & 7;
        if (perm == 0) {
            r.status = WalkStatus::EPT_VIOLATION;
            r.gpa = gpa;
            r.qualification = access_bit | (gla_valid ? eptq::GLA_VALID : 0) |
                              (gla_valid && gla_final ? eptq::GLA_TRANSLATION : 0);
            return r;
        }
        const bool large = level <= 3 && level >= 2 && test_bit(e, 7);
        // Misconfiguration (29.3.3.1): write without read, reserved bits,
        // bad memory type on a leaf, bit 7 set where it is reserved.
        bool misconfig = (perm & 3) == 2;
        if (level == 4 && test_bit(e, 7)) misconfig = true;
        if (large || level == 1) {
            const u64 mt = bits(e, 5, 3);
            if (mt == 2 || mt == 3 || mt == 7) misconfig = true;
            if (large && (e & ((u64{1} << shift) - 1) & ~u64{0xfff})) misconfig = true;
        }
        if (misconfig) {
            r.status = WalkStatus::EPT_MISCONFIG;
            r.gpa = gpa;
            return r;
        }
        rwx &= perm;
        if (large || level == 1) {
            const u64 page_mask = (u64{1} << shift) - 1;
            const u64 machine = (e & kAddrMask & ~page_mask) | (gpa & page_mask & ~u64{0xfff});
            const bool ok = acc == Access::READ ? (rwx & 1) : acc == Access::WRITE ? (rwx & 2) : (rwx & 4);
            if (!ok) {
                r.status = WalkStatus::EPT_VIOLATION;
                r.gpa = gpa;
                r.qualification = access_bit | (rwx << 3) | (gla_valid ? eptq::GLA_VALID : 0) |
                                  (gla_valid && gla_final ? eptq::GLA_TRANSLATION : 0);
                return r;
            }
            if (!m.contains(machine, 0x1000)) return no_memory(gpa);
            r.machine_page = machine;
            r.writable = rwx & 2;
            r.executable = rwx & 4;
            return r;
        }
        table = e & kAddrMask;
    }
    return no_memory(gpa);  // not reached
}

WalkResult translate_linear(MachineMemory& m, const TranslationContext& c, u64 va, Access acc)
{
    const bool paging = test_bit(c.cr0, 31) && test_bit(c.cr0, 0);
    if (!paging) {
        WalkResult r = translate_guest_physical(m, c, va, acc, true, true);
        return r;
    }
    const bool wp = test_bit(c.cr0, 16);
    const bool pae = test_bit(c.cr4, 5);
    const bool pse = test_bit(c.cr4, 4);
    const bool lma = test_bit(c.efer, 10);
    const bool nxe = test_bit(c.efer, 11);
    const bool write = acc == Access::WRITE, fetch = acc == Access::FETCH;
    const u32 base_err = (write ? pfec::W : 0) | (c.user ? pfec::U : 0) | (fetch && ((pae && nxe) || test_bit(c.cr4, 20)) ? pfec::I : 0);  // I/D rule of SDM 4.7

    WalkResult fail;
    auto page_fault = [&](u32 extra) {
        WalkResult r;
        r.status = WalkStatus::PAGE_FAULT;
        r.pf_error = base_err | extra;
        return r;
    };

    bool rw = true, us = true, nx = false;
    u64 entry_addrs[5];
    int used = 0;
    u64 leaf = 0, page_base = 0, page_mask = 0;

    // Walk: (levels, bits per index, entry size) by mode.
    if (!pae) {
        // 32-bit paging (4.3).
        const u64 va32 = va & 0xffffffff;
        u64 pde_gpa = (c.cr3 & 0xfffff000) + 4 * bits(va32, 31, 22), pde_m;
        if (!gpa_to_machine(m, c, pde_gpa, Access::READ, true, false, &pde_m, &fail)) return fail;
        const u32 pde = m.load<u32>(pde_m);
        if (!(pde & 1)) return page_fault(0);
        rw = pde & 2;
        us = pde & 4;
        entry_addrs[used++] = pde_m;
        if (pse && (pde & 0x80)) {
            if (bits(pde, 21, 13)) return page_fault(pfec::P | pfec::RSVD);  // bits 21:13 reserved (no PSE-36 here)
            leaf = pde;
            page_base = pde & 0xffc00000u;
            page_mask = 0x3fffff;
        } else {
            u64 pte_gpa = (pde & 0xfffff000u) + 4 * bits(va32, 21, 12), pte_m;
            if (!gpa_to_machine(m, c, pte_gpa, Access::READ, true, false, &pte_m, &fail)) return fail;
            const u32 pte = m.load<u32>(pte_m);
            if (!(pte & 1)) return page_fault(0);
            rw = rw && (pte & 2);
            us = us && (pte & 4);
            entry_addrs[used++] = pte_m;
            leaf = pte;
            page_base = pte & 0xfffff000u;
            page_mask = 0xfff;
        }
        va = va32;
    } else {
        // PAE: bits 62:MAXPHYADDR are reserved; 4-level: bits 62:52 are
        // ignored (SDM Tables 4-14..4-19), only 51:MAXPHYADDR are reserved.
        // Bit 63 (XD) is reserved unless EFER.NXE.
        const u64 above_maxphys = ((~u64{0}) << c.maxphys) & ~bit(63);
        const u64 rsvd_high = (lma ? (above_maxphys & (bit(52) - 1)) : above_maxphys) | (nxe ? 0 : bit(63));
        u64 table;
        int level;
        if (lma) {
            table = c.cr3 & kAddrMask;
            level = 4;
        } else {
            // PAE: the PDPTE registers, or the PDPT at CR3 bits 31:5 (4.4.1).
            u64 pdpte;
            if (c.pdptes_valid) {
                pdpte = c.pdptes[bits(va, 31, 30)];
            } else {
                u64 pdpte_gpa = (c.cr3 & 0xffffffe0) + 8 * bits(va, 31, 30), pdpte_m;
                if (!gpa_to_machine(m, c, pdpte_gpa, Access::READ, true, false, &pdpte_m, &fail)) return fail;
                pdpte = m.load<u64>(pdpte_m);
            }
            if (!(pdpte & 1)) return page_fault(0);
            if (pae_pdpte_reserved(pdpte)) return page_fault(pfec::P | pfec::RSVD);
            table = pdpte & kAddrMask;
            level = 2;
            va &= 0xffffffff;
        }
        for (; level >= 1; --level) {
            const unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
            u64 e_gpa = table + 8 * bits(va, shift + 8, shift), e_m;
            if (!gpa_to_machine(m, c, e_gpa, Access::READ, true, false, &e_m, &fail)) return fail;
            const u64 e = m.load<u64>(e_m);
            if (!(e & 1)) return page_fault(0);
            bool rsvd = (e & rsvd_high) != 0;
            const bool ps = test_bit(e, 7);
            if (level == 4 && ps) rsvd = true;
            if (level == 3 && ps && bits(e, 29, 13)) rsvd = true;
            if (level == 2 && ps && bits(e, 20, 13)) rsvd = true;
            if (rsvd) return page_fault(pfec::P | pfec::RSVD);
            rw = rw && (e & 2);
            us = us && (e & 4);
            nx = nx || (nxe && test_bit(e, 63));
            entry_addrs[used++] = e_m;
            if (level == 1 || (ps && level <= 3)) {
                leaf = e;
                page_mask = (u64{1} << shift) - 1;
                page_base = e & kAddrMask & ~page_mask;
                break;
            }
            table = e & kAddrMask;
        }
    }

    // Permission checks (4.6).
    if (c.user && !us) return page_fault(pfec::P);
    if (write && !rw && (c.user || wp)) return page_fault(pfec::P);
    if (fetch && nx) return page_fault(pfec::P);
    if (fetch && !c.user && us && test_bit(c.cr4, 20)) return page_fault(pfec::P);  // SMEP

    const u64 gpa = page_base | (va & page_mask);
    WalkResult r = translate_guest_physical(m, c, gpa, acc, true, true);
    if (r.status != WalkStatus::OK) return r;

    // A bits on every entry used, D on the leaf for writes (4.8).
    const bool wide = pae;
    for (int i = 0; i < used; ++i) {
        if (wide) {
            u64 e = m.load<u64>(entry_addrs[i]);
            if (!(e & 0x20)) m.store<u64>(entry_addrs[i], e | 0x20);
        } else {
            u32 e = m.load<u32>(entry_addrs[i]);
            if (!(e & 0x20)) m.store<u32>(entry_addrs[i], e | 0x20);
        }
    }
    const bool dirty = test_bit(leaf, 6);
    if (write && !dirty) {
        if (wide) m.store<u64>(entry_addrs[used - 1], m.load<u64>(entry_addrs[used - 1]) | 0x60);
        else m.store<u32>(entry_addrs[used - 1], m.load<u32>(entry_addrs[used - 1]) | 0x60);
    }
    const bool can_write = (rw || (!c.user && !wp)) && (dirty || write);
    r.writable = r.writable && can_write;
    r.executable = r.executable && !nx;
    return r;
}

}  // namespace xeno::sim
