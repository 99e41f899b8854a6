# cmake -DXENO=<xeno> -DLINUX_DIR=<dir> -DPROFILE=<p> -DSMP=<n> -DOUT=<prefix> [-DRUNS=2] [-DBALLOON_KB=<kB>]
#       [-DPAGING=shadow] -P linux_boot.cmake
#
# Boots Debian's kernel (LINUX_DIR/vmlinuz, by its PVH entry) with the test
# initramfs (LINUX_DIR/initramfs.cpio, ci/make-initramfs.py) on SMP vcpus,
# RUNS times (default 1), as a Xen PVH guest (docs/xen-abi.md) whose console
# is Xen's PV console (console=hvc0): the kernel must say it booted on Xen
# PVH with 2-level event channels delivered by the callback vector, run on
# Xen's clocksource and timers, and print everything through the console
# ring. Each run must end by the guest's ACPI power-off
# with status 0 (summary end=poweroff status=0), its /init must have run
# ("xeno-init: ok") and seen every vcpu online. With RUNS=2 the two runs'
# traces and console output (apart from the summary's wall=) must be
# byte-identical. With BALLOON_KB, /init has Linux's Xen balloon driver give
# that much memory back (memory_op decrease_reservation) and take it again
# (populate_physmap): it must report the sizes before, after the decrease
# and after the increase. Without a kernel in LINUX_DIR it says "skipped" (the test's
# SKIP_REGULAR_EXPRESSION): ci/fetch-linux.sh fetches it, and
# ci/build-and-test.sh runs that first.
foreach(var XENO LINUX_DIR PROFILE SMP OUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "linux_boot.cmake: -D${var}=... is required")
    endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/linux_common.cmake)
if(NOT DEFINED RUNS)
    set(RUNS 1)
endif()
if(NOT EXISTS ${LINUX_DIR}/vmlinuz OR NOT EXISTS ${LINUX_DIR}/initramfs.cpio)
    message(STATUS "no kernel in ${LINUX_DIR} (run ci/fetch-linux.sh): skipped")
    return()
endif()

set(append "console=hvc0 panic=-1")
if(DEFINED BALLOON_KB)
    string(APPEND append " xeno.balloon_kb=${BALLOON_KB}")
endif()
set(paging_args "")
if(DEFINED PAGING)
    set(paging_args --paging ${PAGING})
endif()
math(EXPR last_cpu "${SMP} - 1")
if(SMP EQUAL 1)
    set(online "0")
else()
    set(online "0-${last_cpu}")
endif()
get_filename_component(out_dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${out_dir})

foreach(run RANGE 1 ${RUNS})
    set(trace ${OUT}.${run}.trace)
    file(REMOVE ${trace})
    execute_process(COMMAND ${XENO} run --kernel ${LINUX_DIR}/vmlinuz --initrd ${LINUX_DIR}/initramfs.cpio
                            --append "${append}" -m 256 --pvh --smp ${SMP} --profile ${PROFILE}
                            ${paging_args} --trace ${trace} --timeout 600
        RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
    string(REGEX REPLACE " wall=[0-9.]+" "" stdout "${stdout}")
    xeno_require_poweroff("run ${run}" "${status}" "${stdout}" "${stderr}")
    xeno_require_xen_pvh("run ${run}" "${stdout}" ${SMP})
    if(NOT stdout MATCHES "xeno-init: ok")
        message(FATAL_ERROR "run ${run}: /init did not run:\n${stdout}")
    endif()
    if(NOT stdout MATCHES "xeno-init: cpus ${SMP} online ${online}\n")
        string(REGEX MATCH "xeno-init: cpus[^\n]*" cpus "${stdout}")
        message(FATAL_ERROR "run ${run}: expected ${SMP} vcpus online (${online}), /init saw: ${cpus}")
    endif()
    if(DEFINED BALLOON_KB)
        if(NOT stdout MATCHES "xeno-init: balloon ([0-9]+) kB, down to ([0-9]+) kB, back to ([0-9]+) kB\n")
            message(FATAL_ERROR "run ${run}: /init did not report the balloon:\n${stdout}")
        endif()
        math(EXPR expect_down "${CMAKE_MATCH_1} - ${BALLOON_KB}")
        if(NOT CMAKE_MATCH_2 EQUAL expect_down OR NOT CMAKE_MATCH_3 EQUAL CMAKE_MATCH_1)
            message(FATAL_ERROR "run ${run}: the balloon went from ${CMAKE_MATCH_1} kB to ${CMAKE_MATCH_2} kB "
                                "(expected ${expect_down}) and back to ${CMAKE_MATCH_3} kB")
        endif()
    endif()
    set(stdout_${run} "${stdout}")
endforeach()

if(RUNS GREATER 1)
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}.1.trace ${OUT}.2.trace RESULT_VARIABLE differ)
    if(differ)
        message(FATAL_ERROR "the two boots' exit traces differ: ${OUT}.1.trace ${OUT}.2.trace")
    endif()
    if(NOT stdout_1 STREQUAL stdout_2)
        file(WRITE ${OUT}.1.console "${stdout_1}")
        file(WRITE ${OUT}.2.console "${stdout_2}")
        message(FATAL_ERROR "the two boots' console output differs: ${OUT}.1.console ${OUT}.2.console")
    endif()
    file(SIZE ${OUT}.1.trace size)
    message(STATUS "the two boots are identical (trace ${size} bytes)")
endif()
