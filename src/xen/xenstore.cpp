// The XenStore database (xenstore.hpp): the images in the arena and their
// node records, path rules, watches and events, and the hypervisor-side API.
// The protocol side (transactions, requests, the ring) is in xenstore_protocol.cpp.
#include "xen/xenstore.hpp"
#include "xen/xenstore_internal.hpp"

namespace xeno::xen {

using namespace xs_detail;

namespace {

constexpr usize kRecordHeader = 8;  // u16 path length, u16 value length, u16 owner, u8 perm, u8 0
constexpr u8 kPermRead = 'r';

// (A loop: the hypervisor's runtime has no memcmp.)
bool same_bytes(const void* a, const void* b, usize n)
{
    const u8* x = static_cast<const u8*>(a);
    const u8* y = static_cast<const u8*>(b);
    for (usize i = 0; i < n; ++i)
        if (x[i] != y[i]) return false;
    return true;
}

// Paths sort component by component: byte order with '/' below every other
// byte, so a subtree is contiguous and siblings come in name order.
int compare_paths(const char* a, usize a_len, const char* b, usize b_len)
{
    const usize n = min(a_len, b_len);
    for (usize i = 0; i < n; ++i) {
        if (a[i] == b[i]) continue;
        const int x = a[i] == '/' ? 0 : static_cast<u8>(a[i]);
        const int y = b[i] == '/' ? 0 : static_cast<u8>(b[i]);
        return x - y;
    }
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

// Whether `path` is `base` or below it (xenstored's is_child).
bool at_or_below(const char* path, usize len, const char* base, usize base_len)
{
    if (base_len == 1 && base[0] == '/') return len >= 1 && path[0] == '/';
    if (len < base_len || !same_bytes(path, base, base_len)) return false;
    return len == base_len || path[base_len] == '/';
}

// The length of a path's parent ("/a/b" -> "/a", "/a" -> "/"); 0 for "/".
usize parent_length(const char* path, usize len)
{
    usize i = len;
    while (i > 0 && path[i - 1] != '/') --i;
    return i <= 1 ? (len > 1 ? 1 : 0) : i - 1;
}

bool valid_path_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '/' ||
           c == '_' || c == '@';
}

}  // namespace

XenStore::XenStore(void* arena, usize bytes, u16 domid)
    : arena_(static_cast<u8*>(arena)), capacity_(arena ? bytes : 0), domid_(domid)
{
    if (capacity_) __builtin_memset(arena_, 0, capacity_);
    const char prefix[] = "/local/domain/";
    __builtin_memcpy(home_, prefix, sizeof prefix - 1);
    home_len_ = sizeof prefix - 1 + format_decimal(home_ + sizeof prefix - 1, domid);
    bool changed = false;
    (void)put(tree_, "/", 1, nullptr, 0, false, 0, kPermNone, &changed);  // fails only in a tiny arena
}

// ---- images ----

u8* XenStore::image_base(usize image)
{
    usize at = 0;
    for (usize i = 0; i < image; ++i) at += sizes_[i];
    return arena_ + at;
}

const u8* XenStore::image_base(usize image) const { return const_cast<XenStore*>(this)->image_base(image); }

// Replace `remove` bytes at `at` in `image` by an `insert`-byte gap (its
// contents are the caller's to write), moving the images after it.
bool XenStore::splice(usize image, usize at, usize remove, usize insert)
{
    if (insert > remove && insert - remove > capacity_ - used_) return false;
    u8* base = image_base(image);
    u8* tail = base + at + remove;
    const usize tail_len = static_cast<usize>(arena_ + used_ - tail);
    if (tail_len) __builtin_memmove(base + at + insert, tail, tail_len);
    if (remove > insert) __builtin_memset(arena_ + used_ - (remove - insert), 0, remove - insert);
    used_ = used_ + insert - remove;
    sizes_[image] = sizes_[image] + insert - remove;
    return true;
}

XenStore::Node XenStore::node_at(usize image, usize at) const
{
    const u8* r = image_base(image) + at;
    Node n;
    n.at = at;
    n.path_len = load16(r);
    n.value_len = load16(r + 2);
    n.owner = load16(r + 4);
    n.perm = r[6];
    n.path = reinterpret_cast<const char*>(r + kRecordHeader);
    n.value = r + kRecordHeader + n.path_len;
    n.size = kRecordHeader + n.path_len + n.value_len;
    return n;
}

// The record of `path`, or (false) the offset where it would go.
bool XenStore::find(usize image, const char* path, usize len, usize* at) const
{
    usize pos = 0;
    while (pos < sizes_[image]) {
        const Node n = node_at(image, pos);
        const int order = compare_paths(n.path, n.path_len, path, len);
        if (order == 0) {
            *at = pos;
            return true;
        }
        if (order > 0) break;
        pos += n.size;
    }
    *at = pos;
    return false;
}

usize XenStore::subtree_end(usize image, const Node& node) const
{
    usize pos = node.at + node.size;
    while (pos < sizes_[image]) {
        const Node n = node_at(image, pos);
        if (!at_or_below(n.path, n.path_len, node.path, node.path_len)) break;
        pos += n.size;
    }
    return pos;
}

usize XenStore::count_nodes(usize image) const
{
    usize count = 0;
    for (usize pos = 0; pos < sizes_[image]; pos += node_at(image, pos).size) ++count;
    return count;
}

usize XenStore::node_count() const { return count_nodes(tree_); }

void XenStore::insert_record(usize image, usize at, const char* path, usize len, const u8* value, usize value_len,
                             u16 owner, u8 perm)
{
    if (!splice(image, at, 0, kRecordHeader + len + value_len)) return;  // checked by the caller
    u8* r = image_base(image) + at;
    store16(r, len);
    store16(r + 2, value_len);
    store16(r + 4, owner);
    r[6] = perm;
    r[7] = 0;
    __builtin_memcpy(r + kRecordHeader, path, len);
    if (value_len) __builtin_memcpy(r + kRecordHeader + len, value, value_len);
}

// Create `path` and its missing parents (new nodes get `owner` and `perm`),
// and set its value if `set_value`. All or nothing: ENOSPC leaves the image
// as it was.
XenStore::XsResult XenStore::put(usize image, const char* path, usize len, const u8* value, usize value_len,
                                 bool set_value, u16 owner, u8 perm, bool* changed)
{
    *changed = false;
    usize grow = 0, shrink = 0, at = 0;
    // Missing ancestors: "/" first, then the prefix before each later '/'.
    auto each_ancestor = [&](auto&& visit) {
        if (len > 1) visit(usize{1});
        for (usize i = 2; i < len; ++i)
            if (path[i] == '/') visit(i);
    };
    each_ancestor([&](usize prefix) {
        if (!find(image, path, prefix, &at)) grow += kRecordHeader + prefix;
    });
    if (find(image, path, len, &at)) {
        if (!set_value) return kOk;
        const usize old = node_at(image, at).value_len;
        if (value_len > old)
            grow += value_len - old;
        else
            shrink += old - value_len;
    } else {
        grow += kRecordHeader + len + value_len;
    }
    if (grow > shrink && grow - shrink > capacity_ - used_) return failure(xsd_error::XEN_ENOSPC);

    each_ancestor([&](usize prefix) {
        if (!find(image, path, prefix, &at)) insert_record(image, at, path, prefix, nullptr, 0, owner, perm);
    });
    if (find(image, path, len, &at)) {
        const usize old = node_at(image, at).value_len;
        const usize value_at = at + kRecordHeader + len;
        if (!splice(image, value_at, old, value_len)) return failure(xsd_error::XEN_ENOSPC);
        u8* base = image_base(image);
        if (value_len) __builtin_memcpy(base + value_at, value, value_len);
        store16(base + at + 2, value_len);
    } else {
        insert_record(image, at, path, len, value, value_len, owner, perm);
    }
    *changed = true;
    return kOk;
}

// Remove `path` and everything below it. A missing node is fine if its
// parent exists (xenstored); "/" cannot go.
XenStore::XsResult XenStore::remove(usize image, const char* path, usize len, bool* removed)
{
    *removed = false;
    if (len == 1) return failure(xsd_error::XEN_EINVAL);
    usize at = 0;
    if (!find(image, path, len, &at)) {
        usize parent = 0;
        return find(image, path, parent_length(path, len), &parent) ? kOk : failure(xsd_error::XEN_ENOENT);
    }
    const Node n = node_at(image, at);
    (void)splice(image, at, subtree_end(image, n) - at, 0);  // shrinking always succeeds
    *removed = true;
    return kOk;
}

// ---- paths ----

// Make `path` absolute into path_ and check it as xenstored does. `@` paths
// (special watches) only if allow_special.
bool XenStore::canonical(const char* path, usize len, bool allow_special, usize* out_len)
{
    if (len == 0 || len > xenstore::ABS_PATH_MAX) return false;
    if (path[0] == '@' && !allow_special) return false;
    usize n = 0;
    if (path[0] != '/' && path[0] != '@') {
        __builtin_memcpy(path_, home_, home_len_);
        path_[home_len_] = '/';
        n = home_len_ + 1;
    }
    if (n + len > xenstore::ABS_PATH_MAX) return false;
    __builtin_memcpy(path_ + n, path, len);
    n += len;
    path_[n] = 0;
    for (usize i = 0; i < n; ++i) {
        if (!valid_path_char(path_[i])) return false;
        if (i > 0 && path_[i] == '/' && path_[i - 1] == '/') return false;
    }
    if (n > 1 && path_[n - 1] == '/') return false;
    // The part after "/local/domain/<id>/" has its own limit.
    usize local = 0;
    const char prefix[] = "/local/domain/";
    if (n > sizeof prefix && same_bytes(path_, prefix, sizeof prefix - 1)) {
        usize i = sizeof prefix - 1;
        while (i < n && i < sizeof prefix + 4 && path_[i] >= '0' && path_[i] <= '9') ++i;
        if (i > sizeof prefix - 1 && i < n && path_[i] == '/') local = i + 1;
    }
    if (n - local > xenstore::REL_PATH_MAX) return false;
    *out_len = n;
    return true;
}

// ---- watches and events ----

void XenStore::queue_event(const char* path, usize len, const u8* token, usize token_len)
{
    // Dropped when the queue is full (xenstored drops events past its quota
    // too), or when too long to send (a long path under a watch with a long
    // token).
    const usize payload = len + 1 + token_len + 1;
    if (payload > xenstore::PAYLOAD_MAX || kEventBytes - events_len_ < kHeaderBytes + payload) {
        ++dropped_events_;
        return;
    }
    const xsd_sockmsg hdr{xs::WATCH_EVENT, 0, 0, static_cast<u32>(payload)};
    u8* at = events_ + events_len_;
    __builtin_memcpy(at, &hdr, kHeaderBytes);
    at += kHeaderBytes;
    __builtin_memcpy(at, path, len);
    at[len] = 0;
    if (token_len) __builtin_memcpy(at + len + 1, token, token_len);
    at[len + 1 + token_len] = 0;
    events_len_ += kHeaderBytes + payload;
}

// Queue an event for every watch `path` triggers: watches on it or above
// it; with !exact (a removal) also watches below it, with their own path.
void XenStore::fire(const char* path, usize len, bool exact)
{
    const u8* w = image_base(kWatchImage);
    for (usize pos = 0; pos < sizes_[kWatchImage];) {
        const usize w_len = load16(w + pos), token_len = load16(w + pos + 2);
        const bool relative = w[pos + 4] != 0;
        const char* w_path = reinterpret_cast<const char*>(w + pos + kWatchHeader);
        const u8* token = w + pos + kWatchHeader + w_len;
        pos += kWatchHeader + w_len + token_len;

        const char* event = path;
        usize event_len = len;
        if (!at_or_below(path, len, w_path, w_len)) {
            if (exact || !at_or_below(w_path, w_len, path, len)) continue;
            event = w_path;
            event_len = w_len;
        }
        if (relative && event_len > home_len_ + 1 && at_or_below(event, event_len, home_, home_len_)) {
            event += home_len_ + 1;
            event_len -= home_len_ + 1;
        }
        queue_event(event, event_len, token, token_len);
    }
}

// The watches for every difference between two images of the tree (a
// commit): created and changed nodes, and the topmost of removed subtrees.
void XenStore::fire_changes(usize before, usize after)
{
    usize a = 0, b = 0;
    while (a < sizes_[before] || b < sizes_[after]) {
        const Node x = a < sizes_[before] ? node_at(before, a) : Node{};
        const Node y = b < sizes_[after] ? node_at(after, b) : Node{};
        const int order = a >= sizes_[before] ? 1
                          : b >= sizes_[after] ? -1
                                               : compare_paths(x.path, x.path_len, y.path, y.path_len);
        if (order < 0) {
            usize parent = 0;
            if (find(after, x.path, parent_length(x.path, x.path_len), &parent)) fire(x.path, x.path_len, false);
            a += x.size;
        } else if (order > 0) {
            fire(y.path, y.path_len, true);
            b += y.size;
        } else {
            if (x.value_len != y.value_len || !same_bytes(x.value, y.value, x.value_len) || x.owner != y.owner ||
                x.perm != y.perm)
                fire(y.path, y.path_len, true);
            a += x.size;
            b += y.size;
        }
    }
}

usize XenStore::watch_count() const
{
    usize count = 0;
    const u8* w = image_base(kWatchImage);
    for (usize pos = 0; pos < sizes_[kWatchImage]; ++count)
        pos += kWatchHeader + load16(w + pos) + load16(w + pos + 2);
    return count;
}

// The offset of the watch (path, token), or kNone.
usize XenStore::find_watch(const char* path, usize len, const u8* token, usize token_len) const
{
    const u8* w = image_base(kWatchImage);
    for (usize pos = 0; pos < sizes_[kWatchImage];) {
        const usize w_len = load16(w + pos), w_token = load16(w + pos + 2);
        if (w_len == len && w_token == token_len && same_bytes(w + pos + kWatchHeader, path, len) &&
            same_bytes(w + pos + kWatchHeader + len, token, token_len))
            return pos;
        pos += kWatchHeader + w_len + w_token;
    }
    return kNone;
}

// ---- hypervisor side ----

XenStore::XsResult XenStore::set(const char* path, const u8* value, usize len, bool set_value, u16 owner, u8 perm)
{
    usize path_len = 0;
    if (!canonical(path, bounded_length(path, xenstore::ABS_PATH_MAX + 1), false, &path_len))
        return failure(xsd_error::XEN_EINVAL);
    if (len > xenstore::PAYLOAD_MAX) return failure(xsd_error::XEN_E2BIG);
    bool changed = false;
    const XsResult r = put(tree_, path_, path_len, value, len, set_value, owner, perm, &changed);
    if (changed) {
        ++generation_;
        fire(path_, path_len, true);
    }
    return r;
}

Status XenStore::write(const char* path, const u8* value, usize length)
{
    if (!path || (!value && length)) return Status::BAD_ARGUMENT;
    const XsResult r = set(path, value, length, true, 0, kPermRead);
    if (r.ok) return Status::OK;
    return r.error == xsd_error::XEN_ENOSPC ? Status::NO_MEMORY : Status::BAD_ARGUMENT;
}

Status XenStore::write(const char* path, const char* value)
{
    if (!value) return Status::BAD_ARGUMENT;
    return write(path, reinterpret_cast<const u8*>(value), bounded_length(value, xenstore::PAYLOAD_MAX + 1));
}

Result<usize> XenStore::read(const char* path, char* out, usize capacity)
{
    usize len = 0, at = 0;
    if (!path || !canonical(path, bounded_length(path, xenstore::ABS_PATH_MAX + 1), false, &len))
        return Status::BAD_ARGUMENT;
    if (!find(tree_, path_, len, &at)) return Status::NOT_FOUND;
    const Node n = node_at(tree_, at);
    if (!out || capacity < n.value_len + 1) return Status::TOO_LARGE;
    if (n.value_len) __builtin_memcpy(out, n.value, n.value_len);
    out[n.value_len] = 0;
    return n.value_len;
}

Status XenStore::populate_domain(const char* name, u32 vcpus, u64 memory_kib)
{
    auto text = [](const char* s) { return reinterpret_cast<const u8*>(s); };
    char number[21] = {};
    char path[32] = {};
    bool ok = set(home_, nullptr, 0, false, 0, kPermRead).ok;
    ok = ok && set("name", text(name ? name : ""), name ? bounded_length(name, 256) : 0, true, 0, kPermRead).ok;
    number[format_decimal(number, domid_)] = 0;
    ok = ok && set("domid", text(number), bounded_length(number, 20), true, 0, kPermRead).ok;
    number[format_decimal(number, memory_kib)] = 0;
    ok = ok && set("memory/target", text(number), bounded_length(number, 20), true, 0, kPermRead).ok;
    ok = ok && set("memory/static-max", text(number), bounded_length(number, 20), true, 0, kPermRead).ok;
    for (u32 cpu = 0; ok && cpu < vcpus; ++cpu) {
        const char head[] = "cpu/", tail[] = "/availability";
        __builtin_memcpy(path, head, sizeof head - 1);
        const usize digits = format_decimal(path + sizeof head - 1, cpu);
        __builtin_memcpy(path + sizeof head - 1 + digits, tail, sizeof tail);
        ok = set(path, text("online"), 6, true, 0, kPermRead).ok;
    }
    // Linux sends XS_RESET_WATCHES at boot when this says the store has it.
    ok = ok && set("control", nullptr, 0, false, domid_, kPermNone).ok;
    ok = ok && set("control/platform-feature-xs_reset_watches", text("1"), 1, true, 0, kPermRead).ok;
    ok = ok && set("device", nullptr, 0, false, domid_, kPermNone).ok;
    ok = ok && set("data", nullptr, 0, false, domid_, kPermNone).ok;
    ok = ok && set("console", nullptr, 0, false, 0, kPermRead).ok;
    return ok ? Status::OK : Status::NO_MEMORY;
}

}  // namespace xeno::xen
