# cmake -DXENO=<xeno> -DSCENARIO=<dir> -DPROFILE=<p> [-DPAGING=<mode>] -DISO=<iso> -DOUT=<dir> -DSOURCE=<source dir>
#       -P bochs.cmake
#
# The differential test of one scenario and profile:
#   1. `xeno bochs --expect --trace --witness`: the hw build's ISO in Bochs
#      gives the console and status of [expect];
#   2. its synchronous exit lines equal those of `xeno run --trace` (sim);
#   3. Bochs's own record of the VM exits agrees with the hypervisor's trace
#      (harness/bochs/witness-compare.sh: reason, qualification, order; per
#      physical CPU when the hypervisor ran vcpus on several).
# The Bochs machine has the scenario's [run] bochs_cpus processors.
# Prints "bochs-test: SKIP ..." (the test's SKIP_REGULAR_EXPRESSION) when the
# hw build's ISO or bochs is missing. PAGING (optional, may be empty) is
# passed on as --paging <mode> to both runs (the ISO must be the one made for
# that mode: build/hw/iso/<name>.<mode>.iso).
foreach(var XENO SCENARIO PROFILE ISO OUT SOURCE)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "bochs.cmake: -D${var}=... is required")
    endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/trace_compare.cmake)

set(paging_args "")
if(PAGING)
    set(paging_args --paging ${PAGING})
endif()

find_program(bochs_program bochs)
if(NOT bochs_program)
    message(STATUS "bochs-test: SKIP: bochs is not installed")
    return()
endif()
if(NOT EXISTS ${ISO})
    message(STATUS "bochs-test: SKIP: no ${ISO} (build the hw preset: cmake --build --preset hw)")
    return()
endif()

file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${XENO} bochs ${SCENARIO} --profile ${PROFILE} ${paging_args} --iso ${ISO} --expect
        --trace ${OUT}/bochs.trace --witness ${OUT}/witness.txt --out ${OUT}/rig --timeout 120
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
message(STATUS "xeno bochs: ${stdout}${stderr}")
if(NOT status EQUAL 0)
    message(FATAL_ERROR "xeno bochs ${SCENARIO} --profile ${PROFILE} ${paging_args} --expect exited with ${status} "
        "(Bochs's files: ${OUT}/rig)")
endif()

execute_process(COMMAND ${XENO} run ${SCENARIO} --profile ${PROFILE} ${paging_args} --expect --trace ${OUT}/sim.trace
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "xeno run ${SCENARIO} --profile ${PROFILE} ${paging_args} exited with ${status}:\n${stdout}${stderr}")
endif()
xeno_compare_sync_traces(${OUT}/bochs.trace "bochs" ${OUT}/sim.trace "sim")

# The physical CPUs the hypervisor ran vcpus on (it says so when more than one):
# each CPU's exits are compared in that CPU's order.
set(cpus 1)
file(STRINGS ${OUT}/rig/com1.txt cpus_line REGEX "^domain: [0-9]+ vcpus on [0-9]+ physical CPUs")
if(cpus_line MATCHES "on ([0-9]+) physical CPUs")
    set(cpus ${CMAKE_MATCH_1})
endif()
execute_process(COMMAND sh ${SOURCE}/harness/bochs/witness-compare.sh ${OUT}/bochs.trace ${OUT}/witness.txt ${cpus}
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
message(STATUS "${stdout}")
if(NOT status EQUAL 0)
    message(FATAL_ERROR "Bochs's witness disagrees with the hypervisor's trace:\n${stdout}${stderr}")
endif()
