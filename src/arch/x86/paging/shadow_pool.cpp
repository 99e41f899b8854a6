// Shadow page pool: metadata, the two hashes (by guest frame, by shadow
// frame), reference counts, the root LRU, eviction and the per-guest-frame
// tracking (shadowed[], writable_maps[]). See shadow.hpp.
#include "arch/x86/paging/shadow_internal.hpp"
#include "lib/assert.hpp"

namespace xeno::paging {

using namespace shadow;

namespace {

constexpr u64 k4G = u64{1} << 32;

bool same_key(const Key& a, const Key& b)
{
    return a.gfn == b.gfn && a.level == b.level && a.access == b.access && a.flags == b.flags && a.slot == b.slot;
}

}  // namespace

void ShadowMmu::Impl::setup_tables()
{
    for (u32 i = 0; i <= bucket_mask; ++i) key_buckets[i] = frame_buckets[i] = kNone;
    free_head = kNone;
    for (u32 i = max_pages; i-- > 0;) {
        pages[i] = Page{};
        pages[i].key_next = free_head;
        free_head = i;
    }
    lru_head = lru_tail = kNone;
    active = kNone;
}

u32 ShadowMmu::Impl::find(const Key& key) const
{
    for (u32 i = key_buckets[hash64(key.gfn, bucket_mask)]; i != kNone; i = pages[i].key_next)
        if (same_key(pages[i].key, key)) return i;
    return kNone;
}

u32 ShadowMmu::Impl::page_of_frame(u64 entry) const
{
    const u64 frame = (entry & address_mask(format)) >> kPageShift;
    for (u32 i = frame_buckets[hash64(frame, bucket_mask)]; i != kNone; i = pages[i].frame_next)
        if (pages[i].frame.frame() == frame) return i;
    return kNone;
}

Result<u32> ShadowMmu::Impl::create(const Key& key)
{
    Hpa frame{};
    for (;;) {
        if (stats->pages_in_use < max_pages && free_head != kNone) {
            Result<Hpa> r = frames->allocate_run_below(1, k4G);
            if (r.ok()) {
                frame = r.value();
                break;
            }
        }
        if (!evict_one()) return Status::NO_MEMORY;
    }
    frames->zero(frame, 1);
    const u32 index = free_head;
    Page& p = pages[index];
    free_head = p.key_next;
    p = Page{};
    p.frame = frame;
    p.key = key;
    const u32 kb = hash64(key.gfn, bucket_mask), fb = hash64(frame.frame(), bucket_mask);
    p.key_next = key_buckets[kb];
    key_buckets[kb] = index;
    p.frame_next = frame_buckets[fb];
    frame_buckets[fb] = index;
    if (++stats->pages_in_use > stats->pages_peak) stats->pages_peak = stats->pages_in_use;
    if (p.tracks_guest_frame() && key.gfn < guest_frames && shadowed[key.gfn]++ == 0) write_protect(key.gfn);
    return index;
}

void ShadowMmu::Impl::release(u32 index)
{
    Page& p = pages[index];
    const unsigned n = entries_in(p);
    for (unsigned i = 0; i < n; ++i) zap_entry(index, i);
    if (p.root()) {
        lru_remove(index);
        --stats->roots_cached;
        if (active == index) {
            active = kNone;
            *active_root_out = Hpa{};
        }
    }
    if (p.tracks_guest_frame() && p.key.gfn < guest_frames) --shadowed[p.key.gfn];
    // Unlink from both hash chains.
    for (u32* link = &key_buckets[hash64(p.key.gfn, bucket_mask)]; *link != kNone; link = &pages[*link].key_next)
        if (*link == index) {
            *link = p.key_next;
            break;
        }
    for (u32* link = &frame_buckets[hash64(p.frame.frame(), bucket_mask)]; *link != kNone;
         link = &pages[*link].frame_next)
        if (*link == index) {
            *link = p.frame_next;
            break;
        }
    const Status s = frames->free(p.frame);
    XENO_ASSERT(s == Status::OK);
    --stats->pages_in_use;
    p = Page{};
    p.key_next = free_head;
    free_head = index;
}

void ShadowMmu::Impl::unref(u32 index)
{
    Page& p = pages[index];
    XENO_ASSERT(p.refcount > 0);
    if (--p.refcount == 0 && !p.root()) release(index);
}

void ShadowMmu::Impl::lru_push_front(u32 index)
{
    Page& p = pages[index];
    p.lru_prev = kNone;
    p.lru_next = lru_head;
    if (lru_head != kNone) pages[lru_head].lru_prev = index;
    lru_head = index;
    if (lru_tail == kNone) lru_tail = index;
}

void ShadowMmu::Impl::lru_remove(u32 index)
{
    Page& p = pages[index];
    if (p.lru_prev != kNone) pages[p.lru_prev].lru_next = p.lru_next;
    else lru_head = p.lru_next;
    if (p.lru_next != kNone) pages[p.lru_next].lru_prev = p.lru_prev;
    else lru_tail = p.lru_prev;
    p.lru_prev = p.lru_next = kNone;
}

void ShadowMmu::Impl::lru_touch(u32 index)
{
    lru_remove(index);
    lru_push_front(index);
}

bool ShadowMmu::Impl::evict_one()
{
    for (u32 i = lru_tail; i != kNone; i = pages[i].lru_prev) {
        if (i == active) continue;
        release(i);
        ++stats->evicted_roots;
        return true;
    }
    return false;
}

void ShadowMmu::Impl::drop_everything()
{
    for (u32 i = 0; i < max_pages; ++i)
        if (pages[i].in_use()) {
            const Status s = frames->free(pages[i].frame);
            XENO_ASSERT(s == Status::OK);
        }
    for (u64 g = 0; g < guest_frames; ++g) shadowed[g] = writable_maps[g] = 0;
    setup_tables();
    stats->pages_in_use = 0;
    stats->roots_cached = 0;
    *active_root_out = Hpa{};
}

void ShadowMmu::Impl::build_m2p()
{
    for (u64 s = 0; s <= m2p_mask; ++s) m2p[s] = 0;
    for (u64 g = 0; g < guest_frames; ++g) {
        const u64 mfn = p2m->mfn(g);
        if (mfn == mm::P2m::kInvalidMfn) continue;
        u64 s = hash64(mfn, m2p_mask);
        while (m2p[s] != 0) s = (s + 1) & m2p_mask;
        m2p[s] = static_cast<u32>(g + 1);
    }
}

unsigned ShadowMmu::Impl::entries_in(const Page& p) const
{
    if (p.pae_root()) return 4;
    return format == ShadowFormat::BITS32 ? 1024 : 512;
}

u64 ShadowMmu::Impl::read_entry(const Page& p, unsigned i) const
{
    void* t = map(p.frame);
    if (format == ShadowFormat::BITS32) return static_cast<const u32*>(t)[i];
    return static_cast<const u64*>(t)[i];
}

void ShadowMmu::Impl::write_entry(const Page& p, unsigned i, u64 value)
{
    void* t = map(p.frame);
    if (format == ShadowFormat::BITS32) static_cast<u32*>(t)[i] = static_cast<u32>(value);
    else static_cast<u64*>(t)[i] = value;
}

bool ShadowMmu::Impl::zap_entry(u32 index, unsigned i)
{
    const Page& p = pages[index];
    const u64 e = read_entry(p, i);
    if (!(e & kP)) return false;
    write_entry(p, i, 0);
    if (p.key.level > 1) {
        const u32 child = page_of_frame(e);
        XENO_ASSERT(child != kNone);
        unref(child);
    } else if (e & kRw) {
        const u64 gfn = leaf_gfn(p, i, e);
        if (gfn < guest_frames && writable_maps[gfn] != 0 && writable_maps[gfn] != 0xffff) --writable_maps[gfn];
    }
    return true;
}

void ShadowMmu::Impl::link(u32 parent, unsigned i, u32 child)
{
    const Page& p = pages[parent];
    write_entry(p, i, pages[child].frame.value() | (p.pae_root() ? kPdpteFlags : kNonLeafFlags));
    ++pages[child].refcount;
}

void ShadowMmu::Impl::set_leaf(u32 index, unsigned i, u64 value, u64 gfn)
{
    zap_entry(index, i);
    write_entry(pages[index], i, value);
    // 0xffff: saturated, see write_protect; frames past the table are not tracked.
    if ((value & kRw) && gfn < guest_frames && writable_maps[gfn] != 0xffff) ++writable_maps[gfn];
}

u64 ShadowMmu::Impl::leaf_gfn(const Page& p, unsigned i, u64 entry) const
{
    if (p.direct()) return p.key.gfn + i;
    // Non-direct leaves came from guest PTEs that may have changed already:
    // find the guest frame from the machine frame (the p2m, inverted).
    const u64 mfn = (entry & address_mask(format)) >> kPageShift;
    for (u64 s = hash64(mfn, m2p_mask);; s = (s + 1) & m2p_mask) {
        if (m2p[s] == 0) break;
        if (p2m->mfn(m2p[s] - 1) == mfn) return m2p[s] - 1;
    }
    for (u64 g = 0; g < guest_frames; ++g)  // the p2m changed after init
        if (p2m->mfn(g) == mfn) return g;
    return kNoGfn;
}

void ShadowMmu::Impl::write_protect(u64 gfn)
{
    if (writable_maps[gfn] == 0) return;
    const bool saturated = writable_maps[gfn] == 0xffff;
    const u64 target = p2m->mfn(gfn) << kPageShift;
    for (u32 pi = 0; pi < max_pages && (saturated || writable_maps[gfn] != 0); ++pi) {
        const Page& p = pages[pi];
        if (!p.in_use() || p.key.level != 1) continue;
        const unsigned n = entries_in(p);
        for (unsigned i = 0; i < n; ++i) {
            const u64 e = read_entry(p, i);
            if ((e & kP) && (e & kRw) && (e & address_mask(format)) == target) {
                write_entry(p, i, e & ~kRw);
                ++stats->write_protections;
                if (!saturated && --writable_maps[gfn] == 0) break;
            }
        }
    }
    writable_maps[gfn] = 0;
}

unsigned ShadowMmu::Impl::shadows_of(u64 gfn, u32 (&out)[kMaxShadowsOfFrame]) const
{
    unsigned count = 0;
    for (u32 i = key_buckets[hash64(gfn, bucket_mask)]; i != kNone && count < kMaxShadowsOfFrame; i = pages[i].key_next)
        if (pages[i].key.gfn == gfn && pages[i].tracks_guest_frame()) out[count++] = i;
    return count;
}

void ShadowMmu::Impl::unshadow(u32 index)
{
    Page& p = pages[index];
    ++stats->unshadowed;
    if (p.root()) {
        release(index);
        return;
    }
    // Zap every entry that points to it; the last unref frees it.
    const u64 frame = p.frame.value();
    const unsigned parent_level = p.key.level + 1u;
    for (u32 pi = 0; pi < max_pages && pages[index].in_use() && pages[index].frame.value() == frame; ++pi) {
        const Page& parent = pages[pi];
        if (!parent.in_use() || parent.key.level != parent_level) continue;
        const unsigned n = entries_in(parent);
        for (unsigned i = 0; i < n; ++i) {
            const u64 e = read_entry(parent, i);
            if ((e & kP) && (e & address_mask(format)) == frame) {
                zap_entry(pi, i);
                if (!pages[index].in_use() || pages[index].frame.value() != frame) return;
            }
        }
    }
}

}  // namespace xeno::paging
