// A XenStore server for one guest domain, as Xen's xenstored serves it over
// the domain's shared ring (public/xs_wire.hpp; Xen's docs/misc/xenstore.txt
// is the protocol description this follows). Enough for Linux's xenbus:
// read, write, mkdir, rm, directory (and directory_part), get/set_perms,
// watches, transactions, get_domain_path, reset_watches.
//
// The database lives in a caller-supplied arena. The arena holds "images"
// packed back to back: the watch list, the tree, and a copy of the tree per
// open transaction. An image of the tree is a run of node records sorted by
// path, each {u16 path length, u16 value length, u16 owner domid, u8 others'
// permission, u8 0, path, value}. Paths sort component by component ('/'
// below every other byte), so a node's subtree is the run of records right
// after it and its children come in name order: a directory listing is a
// scan, and removing a subtree is one memmove. Growing or shrinking an image
// moves the images after it; the unused tail of the arena stays zero. Every
// operation is O(arena size), fine for the few KiB a guest's tree takes.
// When the arena is full an operation answers ENOSPC (ENOMEM for a
// transaction's copy) and changes nothing.
//
// Transactions, as in xenstored: TRANSACTION_START copies the tree; reads
// and writes with that tx_id use the copy. Committing a transaction that
// changed something fails with EAGAIN if the tree changed since the start
// (Linux retries); otherwise the copy becomes the tree, and the watches fire
// for every node the commit changed (found by comparing the two images).
// Aborting drops the copy.
//
// Watches fire for a write, mkdir (of a new node), set_perms, rm and commit
// touching the watched path or a node below it; an rm also fires the
// watches below the removed node, with the watch's own path. A watch set
// with a relative path gets relative event paths. Events wait in a queue
// and go out after the reply of the request that caused them.
//
// Permissions are stored (the owner and the others' access of the first
// entry; further entries are checked and dropped) and reported, not
// enforced: the store has a single client. Paths follow xenstored's rules:
// characters [A-Za-z0-9-/_@], no empty component, no trailing '/', at most
// REL_PATH_MAX bytes after "/local/domain/<id>/" and ABS_PATH_MAX in all;
// anything else is EINVAL. Privileged requests (CONTROL, INTRODUCE,
// RELEASE, RESUME, SET_TARGET) get EACCES, as from xenstored to a domU;
// unknown types ENOSYS; a reply over PAYLOAD_MAX E2BIG.
//
// The object keeps the connection's buffers (one request, the output queue,
// the event queue): about 20 KiB, allocate it from the heap. It is not
// synchronised: the caller serialises its calls. Deterministic: everything
// depends only on the call sequence.
#pragma once

#include "lib/status.hpp"
#include "lib/types.hpp"
#include "public/xs_wire.hpp"

namespace xeno::xen {

class XenStore {
public:
    static constexpr usize kHeaderBytes = sizeof(xsd_sockmsg);
    static constexpr usize kMessageMax = kHeaderBytes + xenstore::PAYLOAD_MAX;
    static constexpr usize kMaxTransactions = 8;   // open at once; more: ENOSPC
    static constexpr usize kMaxWatches = 128;      // xenstored's default quota; more: E2BIG
    static constexpr usize kOutputBytes = 2 * kMessageMax;  // replies and events not yet on the ring
    static constexpr usize kEventBytes = kMessageMax;       // events waiting behind a reply
    static constexpr usize kMinReplyCapacity = 16;          // the longest error name and its NUL

    // `arena` (`bytes` long, any alignment) holds the database for the
    // object's lifetime; `domid` is the guest's id: relative paths are
    // relative to /local/domain/<domid>. The tree starts with "/" alone.
    XenStore(void* arena, usize bytes, u16 domid);
    XenStore(const XenStore&) = delete;
    XenStore& operator=(const XenStore&) = delete;

    u16 domid() const { return domid_; }

    // ---- the hypervisor's side (the toolstack's, in Xen) ----

    // The guest's own tree, as Xen's toolstack writes it: /local/domain/<id>
    // with name, domid, memory/target and memory/static-max (KiB),
    // cpu/<n>/availability = "online" for each vcpu,
    // control/platform-feature-xs_reset_watches = "1", and the empty
    // directories device, control, data (owned by the guest) and console
    // (where the caller writes ring-ref and port). NO_MEMORY when the arena
    // is full (what was written stays).
    Status populate_domain(const char* name, u32 vcpus, u64 memory_kib);

    // Write `value` (`length` bytes) at `path` (absolute, or relative to the
    // domain's path), creating missing parents; the watches fire. Nodes the
    // hypervisor creates belong to domain 0 and are readable by the guest.
    // BAD_ARGUMENT for an invalid path or a value over PAYLOAD_MAX,
    // NO_MEMORY when the arena is full.
    Status write(const char* path, const u8* value, usize length);
    Status write(const char* path, const char* value);

    // The value at `path` into `out` with a NUL after it; returns its length.
    // NOT_FOUND if there is no such node, BAD_ARGUMENT for an invalid path,
    // TOO_LARGE if value and NUL do not fit in `capacity`.
    Result<usize> read(const char* path, char* out, usize capacity);

    // ---- the protocol ----

    // Process one complete request (`hdr`, then hdr.len payload bytes) and
    // produce its reply: the payload into `reply_out` (at most
    // min(reply_capacity, PAYLOAD_MAX) bytes; a longer answer becomes E2BIG),
    // the header into `reply_hdr`. A failed request gets type xs::ERROR and
    // the error's name with a NUL. Returns the reply's payload length.
    // Watch events it causes are queued (next_event, or service()).
    // BAD_ARGUMENT, and nothing done, for hdr.len over PAYLOAD_MAX, a null
    // buffer or reply_capacity < kMinReplyCapacity.
    Result<usize> handle_request(const xsd_sockmsg& hdr, const u8* payload, u8* reply_out,
                                 usize reply_capacity, xsd_sockmsg* reply_hdr);

    // Take the oldest queued watch event: header into `hdr`, payload
    // ("path\0token\0") into `payload`; returns its length. NOT_FOUND when
    // none is queued, TOO_LARGE (the event stays) if it does not fit.
    Result<usize> next_event(xsd_sockmsg* hdr, u8* payload, usize capacity);
    usize queued_event_bytes() const { return events_len_; }

    // A fresh ring page: all zero, connected, with the `error` field
    // advertised (SERVER_FEATURE_ERROR).
    static void init_ring(xenstore_domain_interface& ring);

    // Serve the ring in guest memory: put waiting replies and events on rsp
    // as space allows (the rest waits for the next call), then take the
    // request bytes the guest had produced when the call began, assembling
    // requests that arrive in pieces and answering each complete one. A
    // request is taken only while the output queue has room for a full
    // reply, so a guest that does not read its replies stalls only itself.
    // Indices are read once and checked (more than RING_SIZE bytes between
    // producer and consumer: ERROR_RINGIDX), bytes are copied out before
    // they are parsed, a header announcing more than PAYLOAD_MAX is
    // ERROR_PROTO. An error is written to ring.error and the connection is
    // dead from then on (broken()). Returns whether the guest must be
    // notified: bytes were consumed or produced, or the error was set.
    bool service(xenstore_domain_interface& ring);
    bool broken() const { return broken_; }

    // An operation's outcome in the protocol's terms: ok, or the error the
    // reply names.
    struct XsResult {
        bool ok;
        xsd_error error;
    };

    // ---- introspection (tests, statistics) ----
    usize arena_bytes() const { return capacity_; }
    usize bytes_used() const { return used_; }
    usize node_count() const;
    usize watch_count() const;
    usize open_transactions() const;
    u64 dropped_events() const { return dropped_events_; }
    u64 generation() const { return generation_; }  // counts changes of the tree

private:
    // Images: the watch list (fixed), the tree and the transactions' copies
    // (any of the others: commit makes a copy the tree).
    static constexpr usize kWatchImage = 0;
    static constexpr usize kImages = 2 + kMaxTransactions;
    static constexpr usize kNone = ~usize{0};

    // A node record, decoded.
    struct Node {
        usize at = 0;    // offset in its image
        usize size = 0;  // of the whole record
        const char* path = nullptr;
        usize path_len = 0;
        const u8* value = nullptr;
        usize value_len = 0;
        u16 owner = 0;
        u8 perm = 0;  // the others' access: n, r, w or b
    };
    struct Transaction {
        u32 id = 0;  // 0: a free slot
        usize image = 0;
        u64 base = 0;        // generation_ at the start
        u64 generation = 0;  // base + the changes made in it
    };
    struct Reply;

    // Images and node records.
    u8* image_base(usize image);
    const u8* image_base(usize image) const;
    bool splice(usize image, usize at, usize remove, usize insert);
    Node node_at(usize image, usize at) const;
    bool find(usize image, const char* path, usize len, usize* at) const;
    usize subtree_end(usize image, const Node& node) const;
    usize count_nodes(usize image) const;
    void insert_record(usize image, usize at, const char* path, usize len, const u8* value, usize value_len,
                       u16 owner, u8 perm);
    XsResult put(usize image, const char* path, usize len, const u8* value, usize value_len, bool set_value,
                 u16 owner, u8 perm, bool* changed);
    XsResult remove(usize image, const char* path, usize len, bool* removed);
    bool canonical(const char* path, usize len, bool allow_special, usize* out_len);
    XsResult set(const char* path, const u8* value, usize len, bool set_value, u16 owner, u8 perm);

    // Watches and events.
    void queue_event(const char* path, usize len, const u8* token, usize token_len);
    void fire(const char* path, usize len, bool exact);
    void fire_changes(usize before, usize after);
    usize find_watch(const char* path, usize len, const u8* token, usize token_len) const;

    // Transactions.
    Transaction* transaction(u32 id);
    Transaction* transaction_slot();
    void end_transaction(Transaction& tx);
    void note_change(usize image);
    u64 generation_of(usize image) const;

    // Requests.
    XsResult dispatch(const xsd_sockmsg& hdr, const u8* payload, Reply& reply);
    XsResult query(u32 type, usize image, const u8* payload, usize len, Reply& reply);
    XsResult modify(u32 type, usize image, const u8* payload, usize len);
    XsResult watch(u32 type, const u8* payload, usize len);
    XsResult transaction_start(const xsd_sockmsg& hdr, Reply& reply);
    XsResult transaction_end(Transaction& tx, const u8* payload, usize len);
    void reset_watches();

    // The ring.
    bool fail(xenstore_domain_interface& ring, u32 error);
    bool flush(xenstore_domain_interface& ring, bool* wrote);
    void move_events();
    void process_input();

    u8* arena_;
    usize capacity_;
    usize used_ = 0;
    usize sizes_[kImages] = {};
    usize tree_ = 1;  // the image holding the tree
    u16 domid_;
    char home_[24] = {};  // "/local/domain/<domid>"
    usize home_len_ = 0;
    u64 generation_ = 0;
    Transaction transactions_[kMaxTransactions] = {};
    u32 next_tx_id_ = 1;
    u64 dropped_events_ = 0;
    bool broken_ = false;

    char path_[xenstore::ABS_PATH_MAX + 1] = {};  // the canonical path of the current request
    u8 input_[kMessageMax] = {};                  // a request being assembled
    usize input_len_ = 0;
    u8 output_[kOutputBytes] = {};                // messages for rsp, oldest first
    usize output_len_ = 0;
    u8 events_[kEventBytes] = {};                 // watch events behind the last reply
    usize events_len_ = 0;
};

}  // namespace xeno::xen
