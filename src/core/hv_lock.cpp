#include "core/hv_lock.hpp"

namespace xeno {

namespace {
constinit SpinLock g_hv_lock;
}  // namespace

SpinLock& hv_lock() { return g_hv_lock; }

}  // namespace xeno
