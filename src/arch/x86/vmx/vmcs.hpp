// Typed access to the current VMCS through the hal (VMREAD/VMWRITE).
//
// vmcs_read never fails in correct code: it reads only fields the CPU has
// (callers check features first). A failure is counted (vmcs_access_failures)
// instead of panicking, and at the end of the run start() fails the run with
// it (logged, the run's reason): a hypervisor bug or a model or hardware
// surprise fails loudly without killing the hypervisor mid-run.
#pragma once

#include "arch/x86/vmx/vmcs_field.hpp"
#include "hal/vmx.hpp"
#include "lib/status.hpp"

namespace xeno::vmx {

u64& vmcs_access_failures();
// Encoding of the last field whose VMREAD/VMWRITE failed.
u32& vmcs_last_failed_encoding();

template <typename T, u32 E>
T vmcs_read(VmcsField<T, E>)
{
    u64 v = 0;
    if (hal::vmread(E, &v) != hal::VmxResult::SUCCEED) {
        ++vmcs_access_failures();
        vmcs_last_failed_encoding() = E;
        return 0;
    }
    return static_cast<T>(v);
}

template <typename T, u32 E>
Status vmcs_write(VmcsField<T, E>, u64 value)
{
    if (hal::vmwrite(E, value) != hal::VmxResult::SUCCEED) {
        ++vmcs_access_failures();
        vmcs_last_failed_encoding() = E;
        return Status::VMX_FAIL;
    }
    return Status::OK;
}

// Many writes, one check at the end (VMCS setup): remembers the first failure.
class VmcsWriter {
public:
    template <typename T, u32 E>
    VmcsWriter& set(VmcsField<T, E> f, u64 value)
    {
        if (vmcs_write(f, value) != Status::OK && status_ == Status::OK) {
            status_ = Status::VMX_FAIL;
            failed_ = E;
        }
        return *this;
    }
    Status status() const { return status_; }
    u32 failed_encoding() const { return failed_; }

private:
    Status status_ = Status::OK;
    u32 failed_ = 0;
};

}  // namespace xeno::vmx
