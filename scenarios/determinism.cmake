# cmake -DXENO=<xeno> -DSCENARIO=<dir> -DPROFILE=<p> [-DPAGING=<mode>] -DOUT=<prefix> -P determinism.cmake
#
# Runs the scenario twice, each with --trace into its own file, and requires
# the two traces to be byte-identical and non-empty, and the two runs' exit
# statuses and standard output (guest console and summary line, memory hash
# included) to be identical apart from the summary's wall= (host time).
# PAGING (optional, may be empty): passed on as --paging <mode>.
foreach(var XENO SCENARIO PROFILE OUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "determinism.cmake: -D${var}=... is required")
    endif()
endforeach()

set(paging_args "")
if(PAGING)
    set(paging_args --paging ${PAGING})
endif()

get_filename_component(out_dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${out_dir})

foreach(run 1 2)
    set(trace ${OUT}.${run}.trace)
    file(REMOVE ${trace})
    execute_process(COMMAND ${XENO} run ${SCENARIO} --profile ${PROFILE} ${paging_args} --trace ${trace} --memhash
        RESULT_VARIABLE status_${run} OUTPUT_VARIABLE stdout_${run} ERROR_VARIABLE stderr_${run})
    string(REGEX REPLACE " wall=[0-9.]+" "" stdout_${run} "${stdout_${run}}")
    message(STATUS "run ${run}: exit status ${status_${run}}")
    if(NOT stdout_${run} MATCHES "summary: ")
        message(FATAL_ERROR "run ${run} printed no summary line (exit status ${status_${run}}):\n"
            "${stdout_${run}}${stderr_${run}}")
    endif()
    if(NOT EXISTS ${trace})
        message(FATAL_ERROR "run ${run} wrote no trace file ${trace}:\n${stderr_${run}}")
    endif()
    file(SIZE ${trace} size_${run})
    if(size_${run} EQUAL 0)
        message(FATAL_ERROR "run ${run}: the trace ${trace} is empty:\n${stdout_${run}}${stderr_${run}}")
    endif()
endforeach()

if(NOT status_1 STREQUAL status_2)
    message(FATAL_ERROR "the exit statuses differ: ${status_1} then ${status_2}")
endif()
if(NOT stdout_1 STREQUAL stdout_2)
    message(FATAL_ERROR "the output differs (wall= aside):\n--- run 1\n${stdout_1}--- run 2\n${stdout_2}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT}.1.trace ${OUT}.2.trace RESULT_VARIABLE differ)
if(NOT differ EQUAL 0)
    message(FATAL_ERROR "the traces differ: ${OUT}.1.trace ${OUT}.2.trace")
endif()
message(STATUS "deterministic: ${size_1} trace bytes, identical output and traces")
