# cmake -DXENO=<xeno> -DSCENARIO=<dir> -DPROFILE=<p> [-DPAGING=<mode>] -DGOLDEN=<file> -DOUT=<trace> -P golden.cmake
#
# The sim run's trace against the golden trace Bochs produced
# (scenarios/<name>/golden/<profile>[.<paging>].trace, recorded with
# `xeno bochs scenarios/<name> --profile <p> [--paging <mode>] --trace FILE`):
# the synchronous exit lines must be the same. PAGING (optional, may be
# empty) is passed on as --paging <mode>.
foreach(var XENO SCENARIO PROFILE GOLDEN OUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "golden.cmake: -D${var}=... is required")
    endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/trace_compare.cmake)

set(paging_args "")
if(PAGING)
    set(paging_args --paging ${PAGING})
endif()

get_filename_component(out_dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${out_dir})
file(REMOVE ${OUT})
execute_process(COMMAND ${XENO} run ${SCENARIO} --profile ${PROFILE} ${paging_args} --expect --trace ${OUT}
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
if(NOT status EQUAL 0)
    message(FATAL_ERROR "xeno run ${SCENARIO} --profile ${PROFILE} ${paging_args} exited with ${status}:\n${stdout}${stderr}")
endif()
xeno_compare_sync_traces(${GOLDEN} "golden(bochs)" ${OUT} "sim")
