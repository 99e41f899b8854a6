// The XenStore wire protocol (io/xs_wire.h): message types, the message
// header, the error names an XS_ERROR reply carries, the size limits and the
// shared ring page a domain talks to the store through. Values and layouts
// pinned to Xen 4.19's public header; docs/misc/xenstore.txt in Xen's tree
// describes each message's payload.
//
// Naming follows src/public/xen.hpp: XS_READ is xs::READ, XENSTORE_RING_SIZE
// is xenstore::RING_SIZE. The error names are an enum here (Xen has a table
// of {errno, "NAME"}): their order is Xen's table order, which xenstored
// relies on (EINVAL first, new names appended).
#pragma once

#include <cstddef>

#include "lib/types.hpp"

namespace xeno::xen {

// enum xsd_sockmsg_type: xsd_sockmsg.type. A reply carries the request's
// type, or ERROR.
namespace xs {
inline constexpr u32 CONTROL = 0;
inline constexpr u32 DEBUG = CONTROL;  // the old name
inline constexpr u32 DIRECTORY = 1;
inline constexpr u32 READ = 2;
inline constexpr u32 GET_PERMS = 3;
inline constexpr u32 WATCH = 4;
inline constexpr u32 UNWATCH = 5;
inline constexpr u32 TRANSACTION_START = 6;
inline constexpr u32 TRANSACTION_END = 7;
inline constexpr u32 INTRODUCE = 8;
inline constexpr u32 RELEASE = 9;
inline constexpr u32 GET_DOMAIN_PATH = 10;
inline constexpr u32 WRITE = 11;
inline constexpr u32 MKDIR = 12;
inline constexpr u32 RM = 13;
inline constexpr u32 SET_PERMS = 14;
inline constexpr u32 WATCH_EVENT = 15;  // unsolicited, req_id and tx_id 0
inline constexpr u32 ERROR = 16;
inline constexpr u32 IS_DOMAIN_INTRODUCED = 17;
inline constexpr u32 RESUME = 18;
inline constexpr u32 SET_TARGET = 19;
// 20 was XS_RESTRICT, removed.
inline constexpr u32 RESET_WATCHES = 21;
inline constexpr u32 DIRECTORY_PART = 22;
inline constexpr u32 TYPE_COUNT = 23;  // the number of types
inline constexpr u32 INVALID = 0xffff;  // guaranteed never to be a type
}  // namespace xs

// xs_watch_type: the strings of a WATCH_EVENT payload, in order.
namespace xs_watch {
inline constexpr u32 PATH = 0;
inline constexpr u32 TOKEN = 1;
}  // namespace xs_watch

// The error names of xsd_errors, in Xen's order. An XS_ERROR payload is the
// name (xsd_error_name) and a NUL. Xen spells them with the errno names;
// those are host <errno.h> macros, hence the XEN_ prefix (as in xen.hpp).
enum class xsd_error : u8 {
    XEN_EINVAL,
    XEN_EACCES,
    XEN_EEXIST,
    XEN_EISDIR,
    XEN_ENOENT,
    XEN_ENOMEM,
    XEN_ENOSPC,
    XEN_EIO,
    XEN_ENOTEMPTY,
    XEN_ENOSYS,
    XEN_EROFS,
    XEN_EBUSY,
    XEN_EAGAIN,
    XEN_EISCONN,
    XEN_E2BIG,
    XEN_EPERM,
};
inline constexpr usize kXsdErrorCount = 16;

constexpr const char* xsd_error_name(xsd_error e)
{
    constexpr const char* names[kXsdErrorCount] = {
        "EINVAL", "EACCES", "EEXIST", "EISDIR",  "ENOENT", "ENOMEM", "ENOSPC", "EIO",
        "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
    };
    const auto i = static_cast<usize>(e);
    return i < kXsdErrorCount ? names[i] : "EINVAL";
}

// Each message in either direction: this header, then `len` payload bytes
// (generally NUL-terminated strings). Little-endian, as the guest writes it.
struct xsd_sockmsg {
    u32 type;    // xs::
    u32 req_id;  // chosen by the client, echoed in the reply
    u32 tx_id;   // transaction id, 0 outside a transaction
    u32 len;     // payload bytes that follow, at most xenstore::PAYLOAD_MAX
};
static_assert(sizeof(xsd_sockmsg) == 16);
static_assert(offsetof(xsd_sockmsg, type) == 0);
static_assert(offsetof(xsd_sockmsg, req_id) == 4);
static_assert(offsetof(xsd_sockmsg, tx_id) == 8);
static_assert(offsetof(xsd_sockmsg, len) == 12);

namespace xenstore {
// The ring sizes and index arithmetic: indices are free-running u32s, the
// byte at index i is at i & (RING_SIZE - 1).
inline constexpr u32 RING_SIZE = 1024;
constexpr u32 MASK_IDX(u32 idx) { return idx & (RING_SIZE - 1); }

// A longer payload is a protocol violation: xenstored drops the connection.
inline constexpr u32 PAYLOAD_MAX = 4096;
// Longer paths just get an error back.
inline constexpr u32 ABS_PATH_MAX = 3072;
inline constexpr u32 REL_PATH_MAX = 2048;

// server_features bits.
inline constexpr u32 SERVER_FEATURE_RECONNECTION = 1;  // the guest may reset the ring
inline constexpr u32 SERVER_FEATURE_ERROR = 2;         // the `error` field is present

// `connection` values.
inline constexpr u32 CONNECTED = 0;  // the steady state
inline constexpr u32 RECONNECT = 1;  // the guest started a reconnect

// `error` values: why the server stopped serving the ring.
inline constexpr u32 ERROR_NONE = 0;
inline constexpr u32 ERROR_COMM = 1;     // communication problem
inline constexpr u32 ERROR_RINGIDX = 2;  // invalid ring index
inline constexpr u32 ERROR_PROTO = 3;    // protocol violation (payload too long)
}  // namespace xenstore

using XENSTORE_RING_IDX = u32;

// The shared ring page. req carries requests to the store, rsp replies and
// watch events. The guest owns req_prod and rsp_cons, the store req_cons
// and rsp_prod. Xen's arrays are char; bytes are bytes. (Later Xen appends
// evtchn_port after `error`; 4.19 ends here.)
struct xenstore_domain_interface {
    u8 req[xenstore::RING_SIZE];
    u8 rsp[xenstore::RING_SIZE];
    XENSTORE_RING_IDX req_cons, req_prod;
    XENSTORE_RING_IDX rsp_cons, rsp_prod;
    u32 server_features;  // xenstore::SERVER_FEATURE_*
    u32 connection;       // xenstore::CONNECTED / RECONNECT
    u32 error;            // xenstore::ERROR_*
};
static_assert(sizeof(xenstore_domain_interface) == 2076);
static_assert(offsetof(xenstore_domain_interface, req) == 0);
static_assert(offsetof(xenstore_domain_interface, rsp) == 1024);
static_assert(offsetof(xenstore_domain_interface, req_cons) == 2048);
static_assert(offsetof(xenstore_domain_interface, req_prod) == 2052);
static_assert(offsetof(xenstore_domain_interface, rsp_cons) == 2056);
static_assert(offsetof(xenstore_domain_interface, rsp_prod) == 2060);
static_assert(offsetof(xenstore_domain_interface, server_features) == 2064);
static_assert(offsetof(xenstore_domain_interface, connection) == 2068);
static_assert(offsetof(xenstore_domain_interface, error) == 2072);

}  // namespace xeno::xen
