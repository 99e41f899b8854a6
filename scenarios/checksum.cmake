# cmake -DXENO=<xeno> -DSCENARIO=<dir> -DRUNS=<profile>:<mode>,... -P checksum.cmake
#
# Runs the scenario once per (profile, paging mode) pair of RUNS (an empty
# mode: the hypervisor picks; otherwise --paging <mode>) and requires each run
# to print exactly one `checksum=<8 hex digits>` line, the same in all of them:
# the guest observed the same things whatever the CPU and the paging mode.
foreach(var XENO SCENARIO RUNS)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "checksum.cmake: -D${var}=... is required")
    endif()
endforeach()

string(REPLACE "," ";" runs "${RUNS}")
set(first "")
set(first_run "")
foreach(pair IN LISTS runs)
    if(NOT pair MATCHES "^([a-z0-9_-]+):([a-z]*)$")
        message(FATAL_ERROR "checksum.cmake: RUNS: \"${pair}\" is not <profile>:<mode>")
    endif()
    set(profile ${CMAKE_MATCH_1})
    set(mode ${CMAKE_MATCH_2})
    set(args --profile ${profile})
    if(mode)
        list(APPEND args --paging ${mode})
    endif()
    execute_process(COMMAND ${XENO} run ${SCENARIO} ${args}
        RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
    string(REGEX MATCHALL "(^|\n)checksum=[0-9a-f]+\n" lines "${stdout}")
    list(LENGTH lines count)
    if(NOT count EQUAL 1)
        message(FATAL_ERROR "xeno run ${SCENARIO} ${args} (exit status ${status}) printed ${count} checksum= "
            "lines, not one:\n${stdout}${stderr}")
    endif()
    string(REGEX MATCH "checksum=([0-9a-f]+)" line "${lines}")
    set(sum ${CMAKE_MATCH_1})
    string(LENGTH "${sum}" digits)
    if(NOT digits EQUAL 8)
        message(FATAL_ERROR "xeno run ${SCENARIO} ${args}: checksum=${sum} is not 8 hex digits")
    endif()
    message(STATUS "${profile} ${mode}: checksum=${sum} (exit status ${status})")
    if(first_run STREQUAL "")
        set(first ${sum})
        set(first_run "${args}")
    elseif(NOT sum STREQUAL first)
        message(FATAL_ERROR "the checksums differ: ${first} with ${first_run}, ${sum} with ${args}")
    endif()
endforeach()
message(STATUS "the same checksum=${first} in all ${RUNS}")
