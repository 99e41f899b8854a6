# include()d by golden.cmake and bochs.cmake.
#
# xeno_compare_sync_traces(<file_a> <label_a> <file_b> <label_b>)
# Compares the synchronous exit lines of two canonical traces (core/trace.hpp:
# lines with " async" record asynchronous exits, whose position depends on
# timing and is not compared). Fails with the first differing line, both
# values, and the diff's first lines.
# The sequence numbers are dropped too: they count the asynchronous exits,
# which come at different moments in different machines. In a domain with
# several vcpus (lines "exit <seq> v<n> ...") each vcpu's synchronous exits
# are compared in its own order: how the vcpus interleave depends on timing,
# what each of them does in a race-free guest does not. Their page faults
# (EXCEPTION_NMI with info=0x80000b0e) are left out too: under shadow paging
# the vcpus share one shadow cache, so which of them takes the fault that
# fills an entry depends on which touches the page first. So are PAUSE exits:
# a vcpu spinning for another exits once per PAUSE until the other is done.
function(xeno_sync_lines file out_var)
    if(NOT EXISTS ${file})
        message(FATAL_ERROR "no trace file ${file}")
    endif()
    file(STRINGS ${file} lines)
    list(FILTER lines EXCLUDE REGEX " async")
    list(TRANSFORM lines REPLACE "^exit [0-9]+ " "exit ")
    set(grouped ${lines})
    list(FILTER grouped EXCLUDE REGEX "^exit v[0-9]+ ")
    foreach(id RANGE 0 31)
        set(mine ${lines})
        list(FILTER mine INCLUDE REGEX "^exit v${id} ")
        list(FILTER mine EXCLUDE REGEX "EXCEPTION_NMI .*info=0x80000b0e")
        list(FILTER mine EXCLUDE REGEX " PAUSE_INSTRUCTION ")
        list(APPEND grouped ${mine})
    endforeach()
    set(${out_var} "${grouped}" PARENT_SCOPE)
endfunction()

function(xeno_compare_sync_traces file_a label_a file_b label_b)
    xeno_sync_lines(${file_a} a)
    xeno_sync_lines(${file_b} b)
    list(LENGTH a count_a)
    list(LENGTH b count_b)
    if(count_a EQUAL 0)
        message(FATAL_ERROR "${label_a} (${file_a}) has no synchronous exit lines")
    endif()
    if(a STREQUAL b)
        message(STATUS "${count_a} synchronous exit lines agree: ${label_a} = ${label_b}")
        return()
    endif()
    set(index 0)
    while(index LESS count_a AND index LESS count_b)
        list(GET a ${index} line_a)
        list(GET b ${index} line_b)
        if(NOT line_a STREQUAL line_b)
            break()
        endif()
        math(EXPR index "${index} + 1")
    endwhile()
    math(EXPR line_no "${index} + 1")
    if(index LESS count_a)
        list(GET a ${index} line_a)
    else()
        set(line_a "(end of trace)")
    endif()
    if(index LESS count_b)
        list(GET b ${index} line_b)
    else()
        set(line_b "(end of trace)")
    endif()
    # A unified diff of the synchronous lines, for the first hunks.
    get_filename_component(dir ${file_b} DIRECTORY)
    string(REPLACE ";" "\n" text_a "${a}")
    string(REPLACE ";" "\n" text_b "${b}")
    file(WRITE ${dir}/sync-a.trace "${text_a}\n")
    file(WRITE ${dir}/sync-b.trace "${text_b}\n")
    execute_process(COMMAND diff -u --label ${label_a} --label ${label_b} ${dir}/sync-a.trace ${dir}/sync-b.trace
        OUTPUT_VARIABLE diff_text)
    string(SUBSTRING "${diff_text}" 0 3000 diff_text)
    message(FATAL_ERROR "synchronous exit line ${line_no} differs (${count_a} vs ${count_b} lines):\n"
        "  ${label_a}: ${line_a}\n  ${label_b}: ${line_b}\n${diff_text}")
endfunction()
