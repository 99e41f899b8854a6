# cmake -DXENO=<xeno> -DLINUX_DIR=<dir> -DISO=<iso> -DOUT=<dir> -P linux_bochs.cmake
#
# Boots Debian's kernel in the hw build inside Bochs (skylake: EPT, 1
# processor): the ISO the hw build made from LINUX_DIR (src/hal/hw/
# CMakeLists.txt, linux-debian.iso: the hypervisor, the kernel's PVH ELF, the
# test initramfs, "console=hvc0"): a Xen PVH guest on the hypervisor's Xen
# interface, its console Xen's PV console. The run must end by ACPI power-off with
# status 0 after /init printed "xeno-init: ok" and saw 1 CPU online, as the
# sim run (linux_boot.cmake) does; the two agree on the end and on /init's
# lines (not on the exit trace: interrupts arrive at other instructions on
# Bochs's clock, and a kernel's path depends on when). Says "skipped" (the
# test's SKIP_REGULAR_EXPRESSION) without the kernel, the ISO or Bochs.
foreach(var XENO LINUX_DIR ISO OUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "linux_bochs.cmake: -D${var}=... is required")
    endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/linux_common.cmake)
find_program(BOCHS bochs)
if(NOT EXISTS ${LINUX_DIR}/vmlinuz OR NOT EXISTS ${LINUX_DIR}/initramfs.cpio)
    message(STATUS "no kernel in ${LINUX_DIR} (run ci/fetch-linux.sh): skipped")
    return()
endif()
if(NOT EXISTS ${ISO} OR NOT BOCHS)
    message(STATUS "no ${ISO} or no bochs (build the hw preset after ci/fetch-linux.sh): skipped")
    return()
endif()

# `xeno bochs` takes a scenario directory: one naming the kernel files.
set(dir ${OUT}/linux-debian)
file(MAKE_DIRECTORY ${dir})
file(CREATE_LINK ${LINUX_DIR}/vmlinuz ${dir}/vmlinuz SYMBOLIC)
file(CREATE_LINK ${LINUX_DIR}/initramfs.cpio ${dir}/initramfs.cpio SYMBOLIC)
file(WRITE ${dir}/scenario.toml
    "description = \"Debian's kernel by its PVH entry (tests/linux/linux_bochs.cmake)\"\n"
    "[guest]\nkernel = \"vmlinuz\"\ninitrd = \"initramfs.cpio\"\nappend = \"console=hvc0\"\n"
    "memory_mb = 256\npvh = true\n[run]\nprofiles = [\"skylake\"]\n")

execute_process(COMMAND ${CMAKE_COMMAND} -E env XENO_BOCHS_MEGS=512
                        ${XENO} bochs ${dir} --iso ${ISO} --out ${OUT}/bochs --timeout 1200
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
xeno_require_poweroff("Bochs" "${status}" "${stdout}" "${stderr}")
xeno_require_xen_pvh("Bochs" "${stdout}" 1)
if(NOT stdout MATCHES "xeno-init: ok\n" OR NOT stdout MATCHES "xeno-init: cpus 1 online 0\n")
    message(FATAL_ERROR "/init did not run or did not see 1 CPU online:\n${stdout}")
endif()
string(REGEX MATCH "xeno-init: uptime [^\n]*" uptime "${stdout}")
message(STATUS "${uptime} (Bochs's clock)")
