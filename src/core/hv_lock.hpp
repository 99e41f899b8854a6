// The hypervisor's big lock. Several physical CPUs run vcpus of one domain
// at once (hw build); everything the exit path and the schedulers touch
// that is not one vcpu's own (device models, the local APICs' cross-vcpu
// state, the timer queue, the frame allocator, the heap, the console) is
// changed only with this lock held: an exit handler takes it for its whole
// length, a scheduler for its decisions in root operation, and no one holds
// it while a guest runs or a CPU idles. Xen started out the same way; finer
// locks come when a guest's exits contend on it.
#pragma once

#include "lib/spinlock.hpp"

namespace xeno {

SpinLock& hv_lock();

}  // namespace xeno
