// The XenStore protocol (xenstore.hpp): transactions, the requests of
// xs_wire.hpp and their replies, watch events, and servicing the guest's
// shared ring. The store it works on is in xenstore.cpp.
#include "xen/xenstore.hpp"
#include "xen/xenstore_internal.hpp"

namespace xeno::xen {

using namespace xs_detail;

namespace {

constexpr u16 kDomidSelf = 0x7ff0;  // DOMID_SELF

u32 load32(const u8* p) { return u32{p[0]} | u32{p[1]} << 8 | u32{p[2]} << 16 | u32{p[3]} << 24; }

// Offset of the first NUL in p[0, len), or len.
usize nul_at(const u8* p, usize len)
{
    usize i = 0;
    while (i < len && p[i] != 0) ++i;
    return i;
}

// All of s[0, len) as a decimal number no greater than `max`.
bool parse_decimal(const u8* s, usize len, u64 max, u64* out)
{
    if (len == 0 || len > 20) return false;
    u64 v = 0;
    for (usize i = 0; i < len; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
        if (v > max) return false;
    }
    *out = v;
    return true;
}

// The single NUL-terminated argument most requests carry: exactly one NUL,
// at the end (xenstored's onearg).
bool one_argument(const u8* payload, usize len, usize* arg_len)
{
    if (len == 0 || nul_at(payload, len) != len - 1) return false;
    *arg_len = len - 1;
    return true;
}

}  // namespace

// A reply payload under construction: what does not fit marks it overflowed
// (answered as E2BIG) instead of being written past the buffer.
struct XenStore::Reply {
    u8* buf;
    usize capacity;
    usize len = 0;
    bool overflow = false;

    bool fits(usize n) const { return !overflow && n <= capacity - len; }
    void bytes(const void* p, usize n)
    {
        if (!fits(n)) {
            overflow = true;
            return;
        }
        if (n) __builtin_memcpy(buf + len, p, n);
        len += n;
    }
    void nul() { bytes("", 1); }
    void str(const char* s) { bytes(s, bounded_length(s, capacity) + 1); }
    void decimal(u64 v)
    {
        char digits[20];
        bytes(digits, format_decimal(digits, v));
    }
};

// ---- transactions ----

XenStore::Transaction* XenStore::transaction(u32 id)
{
    for (Transaction& tx : transactions_)
        if (id != 0 && tx.id == id) return &tx;
    return nullptr;
}

usize XenStore::open_transactions() const
{
    usize count = 0;
    for (const Transaction& tx : transactions_) count += tx.id != 0;
    return count;
}

void XenStore::end_transaction(Transaction& tx)
{
    (void)splice(tx.image, 0, sizes_[tx.image], 0);
    tx = Transaction{};
}

// A change to `image`: the tree's generation, or its transaction's.
void XenStore::note_change(usize image)
{
    if (image == tree_) {
        ++generation_;
        return;
    }
    for (Transaction& tx : transactions_)
        if (tx.id != 0 && tx.image == image) ++tx.generation;
}

u64 XenStore::generation_of(usize image) const
{
    for (const Transaction& tx : transactions_)
        if (tx.id != 0 && tx.image == image) return tx.generation;
    return generation_;
}

XenStore::XsResult XenStore::transaction_start(const xsd_sockmsg& hdr, Reply& reply)
{
    if (hdr.tx_id != 0) return failure(xsd_error::XEN_EBUSY);
    Transaction* tx = transaction_slot();
    if (!tx) return failure(xsd_error::XEN_ENOSPC);
    // A free image: neither the tree nor a transaction's (there is one: one
    // image per transaction plus the tree).
    usize image = 1;
    for (;; ++image) {
        bool taken = image == tree_;
        for (const Transaction& other : transactions_) taken |= other.id != 0 && other.image == image;
        if (!taken) break;
    }
    const usize size = sizes_[tree_];
    if (!splice(image, 0, 0, size)) return failure(xsd_error::XEN_ENOMEM);
    __builtin_memcpy(image_base(image), image_base(tree_), size);
    u32 id = next_tx_id_++;
    while (id == 0 || transaction(id)) id = next_tx_id_++;
    *tx = Transaction{id, image, generation_, generation_};
    reply.decimal(id);
    reply.nul();
    return kOk;
}

XenStore::Transaction* XenStore::transaction_slot()
{
    for (Transaction& tx : transactions_)
        if (tx.id == 0) return &tx;
    return nullptr;
}

XenStore::XsResult XenStore::transaction_end(Transaction& tx, const u8* payload, usize len)
{
    usize arg = 0;
    if (!one_argument(payload, len, &arg) || arg != 1 || (payload[0] != 'T' && payload[0] != 'F'))
        return failure(xsd_error::XEN_EINVAL);
    const bool dirty = tx.generation != tx.base;
    if (payload[0] == 'T' && dirty) {
        if (tx.base != generation_) {  // the tree changed meanwhile: the client starts over
            end_transaction(tx);
            return failure(xsd_error::XEN_EAGAIN);
        }
        fire_changes(tree_, tx.image);
        const usize old_tree = tree_;
        tree_ = tx.image;
        tx.image = old_tree;  // dropped below
        ++generation_;
    }
    end_transaction(tx);
    return kOk;
}

// ---- requests ----

// READ, DIRECTORY, DIRECTORY_PART, GET_PERMS: read-only, on `image`.
XenStore::XsResult XenStore::query(u32 type, usize image, const u8* payload, usize len, Reply& reply)
{
    usize arg = 0, path_len = 0, at = 0;
    u64 offset = 0;
    if (type == xs::DIRECTORY_PART) {  // "path\0offset\0"
        arg = nul_at(payload, len);
        if (arg == len) return failure(xsd_error::XEN_EINVAL);
        const u8* number = payload + arg + 1;
        const usize number_len = nul_at(number, len - arg - 1);
        if (number_len == len - arg - 1 || !parse_decimal(number, number_len, ~u32{0}, &offset))
            return failure(xsd_error::XEN_EINVAL);
    } else if (!one_argument(payload, len, &arg)) {
        return failure(xsd_error::XEN_EINVAL);
    }
    if (!canonical(reinterpret_cast<const char*>(payload), arg, false, &path_len))
        return failure(xsd_error::XEN_EINVAL);
    if (!find(image, path_, path_len, &at)) return failure(xsd_error::XEN_ENOENT);
    const Node node = node_at(image, at);

    if (type == xs::READ) {
        reply.bytes(node.value, node.value_len);
        return kOk;
    }
    if (type == xs::GET_PERMS) {
        reply.bytes(&node.perm, 1);
        reply.decimal(node.owner);
        reply.nul();
        return kOk;
    }
    // The children's names, each with a NUL. DIRECTORY_PART: the generation
    // first, then whole names from byte `offset` of the full list while they
    // fit, then a NUL (alone at the end of the list), as xenstored answers.
    const bool part = type == xs::DIRECTORY_PART;
    if (part) {
        reply.decimal(generation_of(image));
        reply.nul();
    }
    const usize name_at = node.path_len == 1 ? 1 : node.path_len + 1;
    const usize end = subtree_end(image, node);
    usize listed = 0;  // bytes of the full list before the current child
    for (usize pos = node.at + node.size; pos < end;) {
        const Node child = node_at(image, pos);
        pos += child.size;
        const usize name_len = child.path_len - name_at;
        bool grandchild = false;
        for (usize i = name_at; i < child.path_len; ++i) grandchild |= child.path[i] == '/';
        if (grandchild) continue;
        const usize start = listed;
        listed += name_len + 1;
        if (part && start < offset) continue;
        if (part && !reply.fits(name_len + 2)) break;  // keep room for the final NUL
        reply.bytes(child.path + name_at, name_len);
        reply.nul();
    }
    if (part) {
        if (offset > listed) return failure(xsd_error::XEN_EINVAL);
        reply.nul();
    }
    return kOk;
}

// WRITE, MKDIR, RM, SET_PERMS on `image`; the watches fire for the tree.
XenStore::XsResult XenStore::modify(u32 type, usize image, const u8* payload, usize len)
{
    usize arg = 0, path_len = 0;
    if (type == xs::WRITE || type == xs::SET_PERMS) {  // "path\0..."
        arg = nul_at(payload, len);
        if (arg == len) return failure(xsd_error::XEN_EINVAL);
    } else if (!one_argument(payload, len, &arg)) {
        return failure(xsd_error::XEN_EINVAL);
    }
    if (!canonical(reinterpret_cast<const char*>(payload), arg, false, &path_len))
        return failure(xsd_error::XEN_EINVAL);
    const u8* rest = payload + arg + 1;
    const usize rest_len = len - arg - 1;

    bool changed_node = false;
    XsResult r = kOk;
    if (type == xs::WRITE) {
        r = put(image, path_, path_len, rest, rest_len, true, domid_, kPermNone, &changed_node);
    } else if (type == xs::MKDIR) {
        r = put(image, path_, path_len, nullptr, 0, false, domid_, kPermNone, &changed_node);
    } else if (type == xs::RM) {
        r = remove(image, path_, path_len, &changed_node);
    } else {
        // "<perm><domid>\0" at least once: perm one of n (none), r, w, b
        // (both). The first entry is the owner and everyone else's access.
        u8 perm = 0;
        u64 owner = 0;
        usize count = 0;
        for (usize pos = 0; pos < rest_len; ++count) {
            const usize entry = nul_at(rest + pos, rest_len - pos);
            if (entry == rest_len - pos) break;  // trailing bytes without a NUL: reserved
            u64 id = 0;
            const u8 p = entry ? rest[pos] : 0;
            if ((p != 'n' && p != 'r' && p != 'w' && p != 'b') || !parse_decimal(rest + pos + 1, entry - 1, 0xffff, &id))
                return failure(xsd_error::XEN_EINVAL);
            if (count == 0) perm = p, owner = id;
            pos += entry + 1;
        }
        usize at = 0;
        if (count == 0) return failure(xsd_error::XEN_EINVAL);
        if (!find(image, path_, path_len, &at)) return failure(xsd_error::XEN_ENOENT);
        u8* record = image_base(image) + at;
        store16(record + 4, owner);
        record[6] = perm;
        changed_node = true;
    }
    if (!r.ok) return r;
    if (changed_node) {
        note_change(image);
        if (image == tree_) fire(path_, path_len, type != xs::RM);
    }
    return kOk;
}

// WATCH and UNWATCH: "path\0token\0" (anything after is reserved).
XenStore::XsResult XenStore::watch(u32 type, const u8* payload, usize len)
{
    const usize path_len = nul_at(payload, len);
    if (path_len == len) return failure(xsd_error::XEN_EINVAL);
    const u8* token = payload + path_len + 1;
    const usize token_len = nul_at(token, len - path_len - 1);
    if (token_len == len - path_len - 1) return failure(xsd_error::XEN_EINVAL);
    const char* path = reinterpret_cast<const char*>(payload);
    usize abs_len = 0;
    if (!canonical(path, path_len, true, &abs_len)) return failure(xsd_error::XEN_EINVAL);
    const usize existing = find_watch(path_, abs_len, token, token_len);

    if (type == xs::UNWATCH) {
        if (existing == kNone) return failure(xsd_error::XEN_ENOENT);
        const u8* w = image_base(kWatchImage) + existing;
        (void)splice(kWatchImage, existing, kWatchHeader + load16(w) + load16(w + 2), 0);
        return kOk;
    }
    if (existing != kNone) return failure(xsd_error::XEN_EEXIST);
    if (watch_count() >= kMaxWatches) return failure(xsd_error::XEN_E2BIG);
    const usize at = sizes_[kWatchImage];
    if (!splice(kWatchImage, at, 0, kWatchHeader + abs_len + token_len)) return failure(xsd_error::XEN_ENOSPC);
    u8* w = image_base(kWatchImage) + at;
    store16(w, abs_len);
    store16(w + 2, token_len);
    w[4] = path[0] != '/' && path[0] != '@';  // relative: its events are too
    w[5] = 0;
    __builtin_memcpy(w + kWatchHeader, path_, abs_len);
    if (token_len) __builtin_memcpy(w + kWatchHeader + abs_len, token, token_len);
    // A new watch fires once at once, with the path as given (xenstored).
    queue_event(path, path_len, token, token_len);
    return kOk;
}

void XenStore::reset_watches()
{
    (void)splice(kWatchImage, 0, sizes_[kWatchImage], 0);
    for (Transaction& tx : transactions_)
        if (tx.id != 0) end_transaction(tx);
}

XenStore::XsResult XenStore::dispatch(const xsd_sockmsg& hdr, const u8* payload, Reply& reply)
{
    const usize len = hdr.len;
    usize arg = 0;
    u64 domid = 0;
    switch (hdr.type) {
    case xs::READ:
    case xs::DIRECTORY:
    case xs::DIRECTORY_PART:
    case xs::GET_PERMS:
    case xs::WRITE:
    case xs::MKDIR:
    case xs::RM:
    case xs::SET_PERMS: {
        usize image = tree_;
        if (hdr.tx_id != 0) {
            const Transaction* tx = transaction(hdr.tx_id);
            if (!tx) return failure(xsd_error::XEN_ENOENT);
            image = tx->image;
        }
        const bool reads = hdr.type == xs::READ || hdr.type == xs::DIRECTORY || hdr.type == xs::DIRECTORY_PART ||
                           hdr.type == xs::GET_PERMS;
        if (reads) return query(hdr.type, image, payload, len, reply);
        const XsResult r = modify(hdr.type, image, payload, len);
        if (r.ok) reply.str("OK");
        return r;
    }
    case xs::WATCH:
    case xs::UNWATCH: {
        const XsResult r = watch(hdr.type, payload, len);
        if (r.ok) reply.str("OK");
        return r;
    }
    case xs::TRANSACTION_START:
        return transaction_start(hdr, reply);
    case xs::TRANSACTION_END: {
        Transaction* tx = transaction(hdr.tx_id);
        if (!tx) return failure(xsd_error::XEN_ENOENT);
        const XsResult r = transaction_end(*tx, payload, len);
        if (r.ok) reply.str("OK");
        return r;
    }
    case xs::GET_DOMAIN_PATH:
        if (!one_argument(payload, len, &arg) || !parse_decimal(payload, arg, 0xffff, &domid))
            return failure(xsd_error::XEN_EINVAL);
        reply.bytes("/local/domain/", 14);
        reply.decimal(domid);
        reply.nul();
        return kOk;
    case xs::IS_DOMAIN_INTRODUCED:
        if (!one_argument(payload, len, &arg) || !parse_decimal(payload, arg, 0xffff, &domid))
            return failure(xsd_error::XEN_EINVAL);
        reply.str(domid == domid_ || domid == kDomidSelf ? "T" : "F");
        return kOk;
    case xs::RESET_WATCHES:
        reset_watches();
        reply.str("OK");
        return kOk;
    case xs::CONTROL:
    case xs::INTRODUCE:
    case xs::RELEASE:
    case xs::RESUME:
    case xs::SET_TARGET:
        return failure(xsd_error::XEN_EACCES);  // dom0's requests
    default:
        return failure(xsd_error::XEN_ENOSYS);
    }
}

Result<usize> XenStore::handle_request(const xsd_sockmsg& hdr, const u8* payload, u8* reply_out,
                                       usize reply_capacity, xsd_sockmsg* reply_hdr)
{
    if (!reply_out || !reply_hdr || reply_capacity < kMinReplyCapacity || hdr.len > xenstore::PAYLOAD_MAX ||
        (hdr.len && !payload))
        return Status::BAD_ARGUMENT;
    Reply reply{reply_out, min(reply_capacity, usize{xenstore::PAYLOAD_MAX})};
    XsResult r = dispatch(hdr, payload, reply);
    if (r.ok && reply.overflow) r = failure(xsd_error::XEN_E2BIG);
    reply_hdr->type = hdr.type;
    reply_hdr->req_id = hdr.req_id;
    reply_hdr->tx_id = hdr.tx_id;
    if (!r.ok) {
        reply = Reply{reply_out, kMinReplyCapacity};
        reply.str(xsd_error_name(r.error));
        reply_hdr->type = xs::ERROR;
    }
    reply_hdr->len = static_cast<u32>(reply.len);
    return reply.len;
}

Result<usize> XenStore::next_event(xsd_sockmsg* hdr, u8* payload, usize capacity)
{
    if (events_len_ == 0) return Status::NOT_FOUND;
    const usize len = load32(events_ + 12);
    if (!hdr || (len && !payload) || len > capacity) return Status::TOO_LARGE;
    __builtin_memcpy(hdr, events_, kHeaderBytes);
    __builtin_memcpy(payload, events_ + kHeaderBytes, len);
    events_len_ -= kHeaderBytes + len;
    __builtin_memmove(events_, events_ + kHeaderBytes + len, events_len_);
    return len;
}

// ---- the ring ----

void XenStore::init_ring(xenstore_domain_interface& ring)
{
    __builtin_memset(&ring, 0, sizeof ring);
    ring.server_features = xenstore::SERVER_FEATURE_ERROR;
    ring.connection = xenstore::CONNECTED;
}

bool XenStore::fail(xenstore_domain_interface& ring, u32 error)
{
    broken_ = true;
    input_len_ = 0;
    output_len_ = 0;
    __atomic_store_n(&ring.error, error, __ATOMIC_RELEASE);
    return true;
}

// As much of the output queue as rsp has room for. False: bad indices.
bool XenStore::flush(xenstore_domain_interface& ring, bool* wrote)
{
    const u32 cons = __atomic_load_n(&ring.rsp_cons, __ATOMIC_ACQUIRE);
    const u32 prod = __atomic_load_n(&ring.rsp_prod, __ATOMIC_RELAXED);
    if (prod - cons > xenstore::RING_SIZE) return false;
    const usize n = min(xenstore::RING_SIZE - (prod - cons), output_len_);
    for (usize i = 0; i < n; ++i)
        __atomic_store_n(&ring.rsp[xenstore::MASK_IDX(prod + static_cast<u32>(i))], output_[i], __ATOMIC_RELAXED);
    __atomic_store_n(&ring.rsp_prod, prod + static_cast<u32>(n), __ATOMIC_RELEASE);
    output_len_ -= n;
    if (n && output_len_) __builtin_memmove(output_, output_ + n, output_len_);
    *wrote = n != 0;
    return true;
}

// Queued events behind the replies, whole messages while they fit.
void XenStore::move_events()
{
    while (events_len_ >= kHeaderBytes) {
        const usize size = kHeaderBytes + load32(events_ + 12);
        if (kOutputBytes - output_len_ < size) return;
        __builtin_memcpy(output_ + output_len_, events_, size);
        output_len_ += size;
        events_len_ -= size;
        if (events_len_) __builtin_memmove(events_, events_ + size, events_len_);
    }
}

// Answer the complete request in input_, the reply going to the output queue.
void XenStore::process_input()
{
    xsd_sockmsg hdr{}, reply{};
    __builtin_memcpy(&hdr, input_, kHeaderBytes);
    input_len_ = 0;
    u8* at = output_ + output_len_;
    const Result<usize> r = handle_request(hdr, input_ + kHeaderBytes, at + kHeaderBytes, xenstore::PAYLOAD_MAX, &reply);
    if (!r.ok()) return;  // cannot happen: service() checked the length and the room
    __builtin_memcpy(at, &reply, kHeaderBytes);
    output_len_ += kHeaderBytes + r.value();
}

bool XenStore::service(xenstore_domain_interface& ring)
{
    if (broken_) return false;
    // The guest's producer index, once: what it wrote later comes with a
    // later notification.
    const u32 prod = __atomic_load_n(&ring.req_prod, __ATOMIC_ACQUIRE);
    u32 cons = __atomic_load_n(&ring.req_cons, __ATOMIC_RELAXED);
    if (prod - cons > xenstore::RING_SIZE) return fail(ring, xenstore::ERROR_RINGIDX);
    bool notify = false;
    for (;;) {
        // Replies and events out, events behind the reply that caused them.
        bool wrote = false;
        do {
            move_events();
            if (!flush(ring, &wrote)) return fail(ring, xenstore::ERROR_RINGIDX);
            notify |= wrote;
        } while (wrote && events_len_ != 0);
        // Take a request only with room for its longest reply, and only when
        // the events of the previous one are out of the way.
        if (events_len_ != 0 || kOutputBytes - output_len_ < kMessageMax) break;
        for (;;) {
            const usize payload = input_len_ >= kHeaderBytes ? load32(input_ + 12) : 0;
            if (payload > xenstore::PAYLOAD_MAX) return fail(ring, xenstore::ERROR_PROTO);
            const usize need = (input_len_ < kHeaderBytes ? kHeaderBytes : kHeaderBytes + payload) - input_len_;
            if (need == 0 || cons == prod) break;
            const usize n = min(need, prod - cons);
            for (usize i = 0; i < n; ++i)
                input_[input_len_ + i] =
                    __atomic_load_n(&ring.req[xenstore::MASK_IDX(cons + static_cast<u32>(i))], __ATOMIC_RELAXED);
            input_len_ += n;
            cons += static_cast<u32>(n);
            notify = true;
        }
        __atomic_store_n(&ring.req_cons, cons, __ATOMIC_RELEASE);
        if (input_len_ < kHeaderBytes || input_len_ < kHeaderBytes + load32(input_ + 12)) break;
        process_input();
    }
    return notify;
}

}  // namespace xeno::xen
