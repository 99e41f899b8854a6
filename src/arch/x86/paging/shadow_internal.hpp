// Shadow MMU internals shared by shadow.cpp (public API, fault filling) and
// shadow_pool.cpp (page metadata, hashes, refcounts, LRU, eviction). See
// shadow.hpp for the design.
#pragma once

#include "arch/x86/paging/shadow.hpp"
#include "arch/x86/paging/shadow_entries.hpp"

namespace xeno::paging {

namespace shadow {

inline constexpr u32 kNone = ~u32{0};

// Hash for the page and m2p tables (Fibonacci hashing).
inline u32 hash64(u64 v, u64 mask) { return static_cast<u32>(((v * 0x9e3779b97f4a7c15ull) >> 32) & mask); }

// Key access bits: the rights accumulated from the guest entries above a
// shadow page. Direct pages also key the leaf's dirty flag and PAT index,
// because their 4 KiB leaves all inherit them from one guest entry: a guest
// that cleans a large page (or changes its memory type) must reach a
// different direct page, not one whose leaves were filled writable before.
inline constexpr u8 kAccW = 1, kAccU = 2, kAccNx = 4, kAccDirty = 8;
inline constexpr unsigned kAccPatShift = 4;  // 3 bits

// Page flags (part of the key).
inline constexpr u8 kDirect = 1, kRoot = 2, kPaeRoot = 4;

struct Key {
    u64 gfn = 0;     // guest frame shadowed (direct: first frame of the range; PAE root: CR3 frame)
    u8 level = 0;    // 1..4; a PAE root is level 3
    u8 access = 0;
    u8 flags = 0;
    u8 slot = 0;     // PAE root: which 32-byte PDPT of the frame (CR3 bits 11:5)
    u32 reserved = 0;  // no padding: see Page
};

}  // namespace shadow

struct ShadowMmu::Page {
    Hpa frame{};          // 0: slot free
    shadow::Key key;
    u32 refcount = 0;     // shadow entries pointing to this page (roots: 0, pinned by the LRU instead)
    u32 key_next = shadow::kNone;    // hash chain by key gfn; free-list link when free
    u32 frame_next = shadow::kNone;  // hash chain by shadow frame
    u32 lru_prev = shadow::kNone, lru_next = shadow::kNone;  // roots only
    u8 writes = 0;        // emulated writes since a fill last walked through (flood heuristic)
    u8 reserved[3] = {};  // no padding: see below

    bool in_use() const { return frame.value() != 0; }
    bool direct() const { return key.flags & shadow::kDirect; }
    bool root() const { return key.flags & shadow::kRoot; }
    bool pae_root() const { return key.flags & shadow::kPaeRoot; }
    // Counts in shadowed[] / is write-protected: a guest paging structure
    // (the PAE root is not: PDPT writes take effect at the next CR3 load).
    bool tracks_guest_frame() const { return !direct() && !pae_root(); }
};

// Lives in machine memory from the frame allocator (placement-constructed).
struct ShadowMmu::Impl {
    // The page array lives in machine memory, which the sim hashes (memhash)
    // and snapshots: `pages[i] = Page{}` copies padding bytes from a
    // temporary, so a padded Page would leave stack garbage there.
    static_assert(__has_unique_object_representations(Page), "ShadowMmu::Page must have no padding");
    mm::FrameAllocator* frames = nullptr;
    mm::MapFn map = nullptr;
    const mm::P2m* p2m = nullptr;
    ShadowStats* stats = nullptr;
    Hpa* active_root_out = nullptr;

    u32 max_pages = 0;
    u32 bucket_mask = 0;
    u64 guest_frames = 0;
    u64 m2p_mask = 0;
    Hpa meta_run{};
    u64 meta_frames = 0;
    Hpa track_run{};
    u64 track_frames = 0;

    Page* pages = nullptr;
    u32* key_buckets = nullptr;
    u32* frame_buckets = nullptr;
    u16* shadowed = nullptr;       // per guest frame: non-direct shadow pages of it
    u16* writable_maps = nullptr;  // per guest frame: writable shadow leaves mapping it
    u32* m2p = nullptr;            // open-addressed hash machine frame -> guest frame + 1 (0: empty)

    u32 free_head = shadow::kNone;
    u32 lru_head = shadow::kNone, lru_tail = shadow::kNone;
    u32 active = shadow::kNone;

    bool mode_known = false;
    u32 mode_signature = 0;
    ShadowFormat format = ShadowFormat::NONE;
    bool nxe = false;

    // --- shadow_pool.cpp ---
    void setup_tables();
    u32 find(const shadow::Key& key) const;
    // The shadow pages that shadow guest frame `gfn` as a paging structure
    // (not direct, not PAE roots), collected into `out` before the caller
    // zaps or frees any (that can unlink others of the same hash chain).
    static constexpr unsigned kMaxShadowsOfFrame = 64;  // at most 4 levels x 8 access keys
    unsigned shadows_of(u64 gfn, u32 (&out)[kMaxShadowsOfFrame]) const;
    // A new zeroed shadow page for `key` (evicting inactive roots when the
    // pool is full). NO_MEMORY when nothing is left to evict.
    Result<u32> create(const shadow::Key& key);
    void release(u32 index);           // free a page (and its references)
    void unref(u32 index);             // drop one reference; frees a non-root page at 0
    u32 page_of_frame(u64 entry) const;  // the page a non-leaf entry points to
    bool evict_one();                  // the LRU inactive root; false when none
    void drop_everything();            // every page; tracking arrays cleared
    void build_m2p();                  // the machine-to-guest index, from the p2m as it is now
    void lru_push_front(u32 index);
    void lru_remove(u32 index);
    void lru_touch(u32 index);
    u32 max_roots() const { return max_pages / 4; }

    // Entries.
    unsigned entries_in(const Page& p) const;
    u64 read_entry(const Page& p, unsigned i) const;
    void write_entry(const Page& p, unsigned i, u64 value);
    bool zap_entry(u32 index, unsigned i);  // true when it was present
    void link(u32 parent, unsigned i, u32 child);
    void set_leaf(u32 index, unsigned i, u64 value, u64 gfn);
    u64 leaf_gfn(const Page& p, unsigned i, u64 entry) const;  // kNoGfn when unknown
    void write_protect(u64 gfn);
    void unshadow(u32 index);

    // --- shadow.cpp ---
    Status fill(const PagingState& guest, const WalkResult& walk, u64 linear, AccessType type);
    Result<u32> descend(u32 parent, unsigned i, const shadow::Key& key);
};

}  // namespace xeno::paging
