// A spinlock for data the physical CPUs share (the hypervisor's big lock:
// core/hv_lock.hpp). Test-and-test-and-set with PAUSE while it is taken. The
// GCC atomic builtins compile freestanding in both builds; in the sim build
// there is one physical CPU, so the lock is never contended.
#pragma once

#include "lib/types.hpp"

namespace xeno {

class SpinLock {
public:
    constexpr SpinLock() = default;
    SpinLock(const SpinLock&) = delete;
    SpinLock& operator=(const SpinLock&) = delete;

    void lock()
    {
        while (__atomic_exchange_n(&locked_, 1u, __ATOMIC_ACQUIRE) != 0) {
            while (__atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0) __builtin_ia32_pause();
        }
    }
    void unlock() { __atomic_store_n(&locked_, 0u, __ATOMIC_RELEASE); }
    bool held() const { return __atomic_load_n(&locked_, __ATOMIC_RELAXED) != 0; }

private:
    u32 locked_ = 0;
};

class LockGuard {
public:
    explicit LockGuard(SpinLock& lock) : lock_(lock) { lock_.lock(); }
    ~LockGuard() { lock_.unlock(); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    SpinLock& lock_;
};

}  // namespace xeno
