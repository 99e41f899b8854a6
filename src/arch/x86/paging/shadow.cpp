// Shadow MMU: public API, fault filling, coherence (guest_wrote, invlpg),
// address-space activation. See shadow.hpp; the pool is shadow_pool.cpp.
#include <new>

#include "arch/x86/paging/shadow_internal.hpp"

namespace xeno::paging {

using namespace shadow;

namespace {

constexpr u64 kCr0Wp = bit(16);
constexpr u64 kCr4Pse = bit(4), kCr4Smep = bit(20), kCr4Smap = bit(21);
constexpr u64 kEferNxe = bit(11);
constexpr u64 k4G = u64{1} << 32;
constexpr unsigned kFloodWrites = 4;  // emulated writes with no fill in between: the frame is data now

u64 round_pow2(u64 v)
{
    u64 p = 1;
    while (p < v) p <<= 1;
    return p;
}

// The rights of a guest non-leaf entry folded into an access key.
u8 accumulate(u8 access, u64 entry, bool nxe)
{
    if (!(entry & kRw)) access &= static_cast<u8>(~kAccW);
    if (!(entry & kUs)) access &= static_cast<u8>(~kAccU);
    if (nxe && (entry & kXd)) access |= kAccNx;
    return access;
}

u32 mode_signature(const PagingState& g)
{
    return static_cast<u32>(paging_mode(g)) | ((g.cr0 & kCr0Wp) ? 0x10u : 0) | ((g.cr4 & kCr4Pse) ? 0x20u : 0) |
           ((g.cr4 & kCr4Smep) ? 0x40u : 0) | ((g.cr4 & kCr4Smap) ? 0x80u : 0) | ((g.efer & kEferNxe) ? 0x100u : 0);
}

Key root_key(const PagingState& g, ShadowFormat f)
{
    Key k;
    k.flags = kRoot;
    if (f == ShadowFormat::PAE) {
        k.gfn = (g.cr3 & 0xffffffe0ull) >> kPageShift;
        k.slot = static_cast<u8>(bits(g.cr3, 11, 5));
        k.level = 3;
        k.flags |= kPaeRoot;
    } else if (f == ShadowFormat::BITS32) {
        k.gfn = (g.cr3 & kAddr32) >> kPageShift;
        k.level = 2;
    } else {
        k.gfn = (g.cr3 & kAddr64) >> kPageShift;
        k.level = 4;
    }
    k.access = kAccW | kAccU;
    return k;
}

}  // namespace

ShadowFormat shadow_format(PagingMode guest_mode)
{
    switch (guest_mode) {
    case PagingMode::BITS32: return ShadowFormat::BITS32;
    case PagingMode::PAE: return ShadowFormat::PAE;
    case PagingMode::LEVEL4: return ShadowFormat::LEVEL4;
    case PagingMode::NONE: break;
    }
    return ShadowFormat::NONE;
}

Status ShadowMmu::init(mm::FrameAllocator& frames, mm::MapFn map, const mm::P2m& p2m, u32 max_pages)
{
    if (impl_) return Status::BAD_STATE;
    if (max_pages < 8) return Status::BAD_ARGUMENT;
    const u64 buckets = round_pow2(max_pages);
    static_assert(sizeof(Impl) <= kImplStorage, "ShadowMmu::kImplStorage is too small for Impl");
    const u64 impl_bytes = 0;  // Impl lives in impl_storage_, not in the metadata frames
    const u64 meta_bytes = impl_bytes + u64{max_pages} * sizeof(Page) + 2 * buckets * sizeof(u32);
    const u64 meta_frames = align_up(meta_bytes, kPageSize) / kPageSize;
    const u64 gf = p2m.guest_frames();
    const u64 m2p_slots = round_pow2(2 * gf + 2);
    const u64 track_bytes = align_up(2 * gf * sizeof(u16), 8) + m2p_slots * sizeof(u32);
    const u64 track_frames = align_up(track_bytes, kPageSize) / kPageSize;

    Result<Hpa> meta = frames.allocate_zeroed_run(meta_frames);
    if (!meta.ok()) return meta.status();
    Result<Hpa> track = frames.allocate_zeroed_run(track_frames);
    if (!track.ok()) {
        (void)frames.free_run(meta.value(), meta_frames);
        return track.status();
    }
    u8* m = static_cast<u8*>(map(meta.value()));
    u8* t = static_cast<u8*>(map(track.value()));
    Impl* impl = ::new (static_cast<void*>(impl_storage_)) Impl{};
    impl->frames = &frames;
    impl->map = map;
    impl->p2m = &p2m;
    impl->stats = &stats_;
    impl->active_root_out = &active_root_;
    impl->max_pages = max_pages;
    impl->bucket_mask = static_cast<u32>(buckets - 1);
    impl->guest_frames = gf;
    impl->m2p_mask = m2p_slots - 1;
    impl->meta_run = meta.value();
    impl->meta_frames = meta_frames;
    impl->track_run = track.value();
    impl->track_frames = track_frames;
    impl->pages = reinterpret_cast<Page*>(m + impl_bytes);
    impl->key_buckets = reinterpret_cast<u32*>(m + impl_bytes + u64{max_pages} * sizeof(Page));
    impl->frame_buckets = impl->key_buckets + buckets;
    impl->shadowed = reinterpret_cast<u16*>(t);
    impl->writable_maps = impl->shadowed + gf;
    impl->m2p = reinterpret_cast<u32*>(t + align_up(2 * gf * sizeof(u16), 8));
    impl->setup_tables();
    impl->build_m2p();
    impl_ = impl;
    stats_ = ShadowStats{};
    active_root_ = Hpa{};
    return Status::OK;
}

void ShadowMmu::destroy()
{
    if (!impl_) return;
    impl_->drop_everything();
    mm::FrameAllocator& frames = *impl_->frames;
    const Hpa meta = impl_->meta_run, track = impl_->track_run;
    const u64 meta_frames = impl_->meta_frames, track_frames = impl_->track_frames;
    impl_->~Impl();
    impl_ = nullptr;
    (void)frames.free_run(track, track_frames);
    (void)frames.free_run(meta, meta_frames);
    active_root_ = Hpa{};
}

void ShadowMmu::set_guest_mode(const PagingState& guest)
{
    if (!impl_) return;
    const u32 sig = mode_signature(guest);
    if (impl_->mode_known && impl_->mode_signature == sig) return;
    if (impl_->mode_known) flush_all();
    impl_->mode_known = true;
    impl_->mode_signature = sig;
    impl_->format = shadow_format(paging_mode(guest));
    impl_->nxe = impl_->format != ShadowFormat::BITS32 && (guest.efer & kEferNxe);
}

void ShadowMmu::guest_paging_off()
{
    if (!impl_ || !impl_->mode_known) return;
    flush_all();
    impl_->mode_known = false;
}

void ShadowMmu::flush_all()
{
    if (!impl_) return;
    impl_->drop_everything();
    ++stats_.full_flushes;
}

void ShadowMmu::p2m_changed()
{
    if (!impl_) return;
    impl_->drop_everything();
    impl_->build_m2p();
    ++stats_.full_flushes;
}

bool ShadowMmu::write_protected(u64 gfn) const
{
    return impl_ && gfn < impl_->guest_frames && impl_->shadowed[gfn] != 0;
}

Result<Hpa> ShadowMmu::activate(const PagingState& guest)
{
    if (!impl_) return Status::BAD_STATE;
    set_guest_mode(guest);
    Impl& s = *impl_;
    if (s.format == ShadowFormat::NONE) return Status::BAD_ARGUMENT;
    const Key key = root_key(guest, s.format);
    u32 root = s.find(key);
    if (root != kNone) {
        // shadow_sync re-activates after every emulated instruction and CR
        // write: only a switch to another cached address space is a hit.
        if (root != s.active) ++stats_.root_hits;
        s.lru_touch(root);
    } else {
        ++stats_.root_misses;
        // The old address space is no longer active: it may be evicted now.
        s.active = kNone;
        active_root_ = Hpa{};
        while (stats_.roots_cached >= s.max_roots() && s.evict_one()) {
        }
        Result<u32> r = s.create(key);
        if (!r.ok()) {
            flush_all();
            r = s.create(key);
            if (!r.ok()) return r.status();
        }
        root = r.value();
        s.lru_push_front(root);
        ++stats_.roots_cached;
    }
    if (s.format == ShadowFormat::PAE) {
        // The PDPTEs are the ones loaded with this CR3: re-link each shadow
        // PDPTE to the cached level-2 shadow of the loaded guest PDPTE, or
        // drop it (the next fault through it links a new one).
        for (unsigned i = 0; i < 4; ++i) {
            const u64 e = s.read_entry(s.pages[root], i);
            const u64 want = guest.pdptes[i];
            u32 child = kNone;
            if (guest.pdptes_loaded && (want & kP)) {
                Key k;
                k.gfn = (want & kAddr64) >> kPageShift;
                k.level = 2;
                k.access = kAccW | kAccU;
                child = s.find(k);
            }
            if ((e & kP) && child != kNone && (e & kAddr64) == s.pages[child].frame.value()) continue;
            s.zap_entry(root, i);
            if (child != kNone) s.link(root, i, child);
        }
    }
    s.active = root;
    active_root_ = s.pages[root].frame;
    return active_root_;
}

Result<u32> ShadowMmu::Impl::descend(u32 parent, unsigned i, const Key& key)
{
    u32 child = find(key);
    if (child == kNone) {
        Result<u32> r = create(key);
        if (!r.ok()) return r.status();
        child = r.value();
    }
    const u64 e = read_entry(pages[parent], i);
    if (!(e & kP) || (e & address_mask(format)) != pages[child].frame.value()) {
        zap_entry(parent, i);
        link(parent, i, child);
    }
    pages[child].writes = 0;
    return child;
}

Status ShadowMmu::Impl::fill(const PagingState& guest, const WalkResult& w, u64 linear, AccessType type)
{
    if (active == kNone || w.entry_count == 0) return Status::BAD_STATE;
    const u64 gfn = w.gpa.frame();
    const u64 mfn = p2m->mfn(gfn);
    if (format == ShadowFormat::BITS32 && mfn >= (k4G >> kPageShift)) return Status::UNSUPPORTED;
    u32 cur = active;
    pages[cur].writes = 0;
    u8 acc = kAccW | kAccU;
    const unsigned last = w.entry_count - 1u;
    for (unsigned n = 0; n < last; ++n) {
        const WalkEntry& e = w.entries[n];
        if (!(format == ShadowFormat::PAE && e.level == 3)) acc = accumulate(acc, e.value, nxe);
        Key k;
        k.gfn = (e.value & (e.width == 4 ? kAddr32 : kAddr64)) >> kPageShift;
        k.level = static_cast<u8>(e.level - 1);
        k.access = acc;
        Result<u32> c = descend(cur, table_index(format, linear, e.level), k);
        if (!c.ok()) return c.status();
        cur = c.value();
    }
    const unsigned leaf_level = w.entries[last].level;
    if (leaf_level > 1) {
        // A large guest page: direct shadows of 4 KiB entries down to level 1.
        const u8 access = static_cast<u8>((w.writable ? kAccW : 0) | (w.user ? kAccU : 0) |
                                          (w.executable ? 0 : kAccNx) | (w.dirty ? kAccDirty : 0) |
                                          (w.pat_index << kAccPatShift));
        const u64 base = w.gpa.value() & ~(w.page_size - 1);
        const u64 offset = w.gpa.value() - base;
        for (unsigned l = leaf_level; l >= 2; --l) {
            Key k;
            k.gfn = (base + align_down(offset, direct_coverage(format, l - 1))) >> kPageShift;
            k.level = static_cast<u8>(l - 1);
            k.access = access;
            k.flags = kDirect;
            Result<u32> c = descend(cur, table_index(format, linear, l), k);
            if (!c.ok()) return c.status();
            cur = c.value();
        }
    }
    // The leaf. With CR0.WP=0 a supervisor write to a read-only page is
    // allowed: map it writable but supervisor-only (the real CR0.WP is 1).
    const bool wp0_write = type == AccessType::WRITE && guest.cpl < 3 && !w.writable && !(guest.cr0 & kCr0Wp);
    const bool guest_allows_write = w.writable || wp0_write;
    const bool user = w.user && !wp0_write;
    // (A frame past the p2m's table, mm::P2m::map_outside, is never a
    // shadowed page table.)
    const bool rw = guest_allows_write && w.dirty && !(gfn < guest_frames && shadowed[gfn] != 0);
    u64 value = (mfn << kPageShift) | kP | kA | pat_bits(w.pat_index);
    if (rw) value |= kRw | kD;
    if (user) value |= kUs;
    if (nxe && !w.executable) value |= kXd;
    set_leaf(cur, table_index(format, linear, 1), value, gfn);
    return Status::OK;
}

FaultResult ShadowMmu::handle_fault(const PagingState& guest, Gla linear, u32 hw_error_code, const GuestMemory& memory)
{
    ++stats_.faults;
    FaultResult out;
    if (!impl_ || impl_->active == kNone) return out;
    PagingState g = guest;
    g.cpl = (hw_error_code & pfec::U) ? 3 : 0;
    const AccessType type = (hw_error_code & pfec::W)   ? AccessType::WRITE
                            : (hw_error_code & pfec::I) ? AccessType::FETCH
                                                        : AccessType::READ;
    const WalkResult w = guest_walk(g, Access{type, false, true}, linear, memory);
    switch (w.outcome) {
    case WalkOutcome::PAGE_FAULT:
        ++stats_.guest_faults;
        out.action = FaultAction::GUEST_FAULT;
        out.error_code = w.error_code;
        return out;
    case WalkOutcome::MEMORY_ERROR:
        // A guest paging structure outside RAM: the bus reads all ones
        // there, an entry that is present with reserved bits set (SDM Vol.
        // 3A 4.7: P and RSVD, with W/U/I as for any fault of this access).
        ++stats_.guest_faults;
        out.action = FaultAction::GUEST_FAULT;
        out.error_code = pfec::P | pfec::RSVD | (hw_error_code & (pfec::W | pfec::U | pfec::I));
        return out;
    case WalkOutcome::RETRY: out.action = FaultAction::RETRY; return out;
    case WalkOutcome::OK: break;
    }
    const u64 gfn = w.gpa.frame();
    if (impl_->p2m->mfn(gfn) == mm::P2m::kInvalidMfn) {
        out.action = FaultAction::MMIO;
        out.gpa = w.gpa;
        return out;
    }
    if (type == AccessType::WRITE && write_protected(gfn)) {
        out.action = FaultAction::EMULATE_WRITE;
        out.gpa = w.gpa;
        return out;
    }
    Status s = impl_->fill(g, w, w.linear.value(), type);
    if (s == Status::NO_MEMORY) {
        // Only the active address space is left: start over with it alone.
        flush_all();
        if (!activate(guest).ok()) return out;
        s = impl_->fill(g, w, w.linear.value(), type);
    }
    if (s != Status::OK) return out;
    ++stats_.fills;
    out.action = FaultAction::FIXED;
    return out;
}

void ShadowMmu::invlpg(const PagingState& guest, Gla linear)
{
    (void)guest;
    if (!impl_ || impl_->active == kNone) return;
    Impl& s = *impl_;
    const u64 la = s.format == ShadowFormat::LEVEL4 ? linear.value() : linear.value() & 0xffffffffull;
    u32 cur = s.active;
    for (unsigned level = top_level(s.format); level > 1; --level) {
        const u64 e = s.read_entry(s.pages[cur], table_index(s.format, la, level));
        if (!(e & kP)) return;
        cur = s.page_of_frame(e);
        if (cur == kNone) return;
    }
    if (s.zap_entry(cur, table_index(s.format, la, 1))) ++stats_.zapped_entries;
}

bool ShadowMmu::unprotect(u64 gfn)
{
    if (!impl_ || !write_protected(gfn)) return true;
    Impl& s = *impl_;
    u32 found[Impl::kMaxShadowsOfFrame];
    const unsigned count = s.shadows_of(gfn, found);
    for (unsigned n = 0; n < count; ++n) {
        const u32 i = found[n];
        if (i == s.active) return false;
        if (!s.pages[i].in_use() || s.pages[i].key.gfn != gfn || !s.pages[i].tracks_guest_frame()) continue;
        s.unshadow(i);
    }
    return !write_protected(gfn);
}

void ShadowMmu::guest_wrote(Gpa gpa, u32 length)
{
    if (!impl_ || length == 0) return;
    Impl& s = *impl_;
    const unsigned width = entry_width(s.format);
    const u64 start = gpa.value(), end = gpa.value() + length;
    bool touched = false;
    for (u64 gfn = start >> kPageShift; gfn <= (end - 1) >> kPageShift; ++gfn) {
        if (!write_protected(gfn)) continue;
        touched = true;
        // Collect first: zapping can free other pages of the same chain.
        u32 found[Impl::kMaxShadowsOfFrame];
        const unsigned count = s.shadows_of(gfn, found);
        const u64 frame_start = gfn << kPageShift;
        const u64 lo = (start > frame_start ? start : frame_start) - frame_start;
        const u64 hi = (end < frame_start + kPageSize ? end : frame_start + kPageSize) - frame_start - 1;
        u32 flooded[Impl::kMaxShadowsOfFrame];
        unsigned flood_count = 0;
        for (unsigned n = 0; n < count; ++n) {
            const u32 i = found[n];
            if (!s.pages[i].in_use() || s.pages[i].key.gfn != gfn || !s.pages[i].tracks_guest_frame()) continue;
            for (u64 e = lo / width; e <= hi / width; ++e)
                if (s.zap_entry(i, static_cast<unsigned>(e))) ++stats_.zapped_entries;
            if (!s.pages[i].in_use()) continue;
            if (++s.pages[i].writes >= kFloodWrites && i != s.active) flooded[flood_count++] = i;
        }
        for (unsigned n = 0; n < flood_count; ++n) {
            const u32 i = flooded[n];
            if (!s.pages[i].in_use() || s.pages[i].key.gfn != gfn || !s.pages[i].tracks_guest_frame()) continue;
            s.unshadow(i);
        }
    }
    if (touched) ++stats_.emulated_writes;
}

}  // namespace xeno::paging
