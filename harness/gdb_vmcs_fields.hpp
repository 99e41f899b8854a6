// The VMCS fields the gdb stub reads for its snapshots and `monitor vmcs`,
// by the encodings the hypervisor's own table gives them
// (src/arch/x86/vmx/vmcs_fields.def, SDM Vol. 3C appendix B).
#pragma once

#include <cstdint>

#include "arch/x86/vmx/vmcs_field.hpp"

namespace xeno::harness::enc {

namespace f = vmx::field;
constexpr std::uint32_t ES_SEL = f::GUEST_ES_SELECTOR.kEncoding, CS_SEL = f::GUEST_CS_SELECTOR.kEncoding,
                        SS_SEL = f::GUEST_SS_SELECTOR.kEncoding, DS_SEL = f::GUEST_DS_SELECTOR.kEncoding,
                        FS_SEL = f::GUEST_FS_SELECTOR.kEncoding, GS_SEL = f::GUEST_GS_SELECTOR.kEncoding,
                        EPTP = f::EPT_POINTER.kEncoding, EFER = f::GUEST_IA32_EFER.kEncoding,
                        PIN = f::PIN_BASED_VM_EXEC_CONTROL.kEncoding, PROC = f::CPU_BASED_VM_EXEC_CONTROL.kEncoding,
                        EXC_BITMAP = f::EXCEPTION_BITMAP.kEncoding, EXIT_CTLS = f::VM_EXIT_CONTROLS.kEncoding,
                        ENTRY_CTLS = f::VM_ENTRY_CONTROLS.kEncoding, PROC2 = f::SECONDARY_VM_EXEC_CONTROL.kEncoding,
                        INTERRUPTIBILITY = f::GUEST_INTERRUPTIBILITY_INFO.kEncoding,
                        ACTIVITY = f::GUEST_ACTIVITY_STATE.kEncoding, CR0 = f::GUEST_CR0.kEncoding,
                        CR3 = f::GUEST_CR3.kEncoding, CR4 = f::GUEST_CR4.kEncoding, CS_BASE = f::GUEST_CS_BASE.kEncoding,
                        FS_BASE = f::GUEST_FS_BASE.kEncoding, GS_BASE = f::GUEST_GS_BASE.kEncoding,
                        RSP = f::GUEST_RSP.kEncoding, RIP = f::GUEST_RIP.kEncoding, RFLAGS = f::GUEST_RFLAGS.kEncoding;

}  // namespace xeno::harness::enc
