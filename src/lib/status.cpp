#include "lib/status.hpp"

namespace xeno {

const char* status_name(Status s)
{
    switch (s) {
    case Status::OK: return "ok";
    case Status::NO_MEMORY: return "out of memory";
    case Status::BAD_ARGUMENT: return "bad argument";
    case Status::BAD_STATE: return "bad state";
    case Status::NOT_FOUND: return "not found";
    case Status::UNSUPPORTED: return "unsupported";
    case Status::VMX_FAIL: return "VMX instruction failed";
    case Status::GUEST_FAULT: return "guest fault";
    case Status::TOO_LARGE: return "too large";
    }
    return "unknown status";
}

}  // namespace xeno
