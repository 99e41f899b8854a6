# Debian's gdb against `xeno run --gdb` (CTest label `gdb`): one session per
# script, guest and CPU profile (skylake: EPT; penryn: shadow paging, real
# mode emulated by the hypervisor). tests/gdb/gdb_session.sh starts xeno,
# runs gdb in batch mode and checks its output against <script>.expect;
# without gdb installed CTest reports the tests skipped.
foreach(profile skylake penryn)
    foreach(session session:guest points:guest smp2:guest-smp)
        string(REPLACE ":" ";" parts ${session})
        list(GET parts 0 script)
        list(GET parts 1 guest)
        add_test(NAME gdb.${script}.${profile}
            COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/gdb_session.sh $<TARGET_FILE:xeno>
                    ${CMAKE_CURRENT_LIST_DIR}/${script}.gdb ${CMAKE_CURRENT_LIST_DIR}/${script}.expect
                    ${CMAKE_CURRENT_BINARY_DIR}/gdb/${script}-${profile}
                    -- ${CMAKE_CURRENT_LIST_DIR}/${guest} --profile ${profile})
        set_tests_properties(gdb.${script}.${profile} PROPERTIES LABELS gdb TIMEOUT 300
            SKIP_REGULAR_EXPRESSION "gdb not installed")
    endforeach()
endforeach()
# The same sessions with a checkpoint forked at every stop (at most 16):
# reverse execution then goes back through the chain of forked copies
# (harness/gdb_checkpoints.hpp), and GDB must see exactly the same.
foreach(session session:guest smp2:guest-smp)
    string(REPLACE ":" ";" parts ${session})
    list(GET parts 0 script)
    list(GET parts 1 guest)
    add_test(NAME gdb.${script}-checkpoints.skylake
        COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/gdb_session.sh $<TARGET_FILE:xeno>
                ${CMAKE_CURRENT_LIST_DIR}/${script}.gdb ${CMAKE_CURRENT_LIST_DIR}/${script}.expect
                ${CMAKE_CURRENT_BINARY_DIR}/gdb/${script}-checkpoints-skylake
                -- ${CMAKE_CURRENT_LIST_DIR}/${guest} --profile skylake)
    set_tests_properties(gdb.${script}-checkpoints.skylake PROPERTIES LABELS gdb TIMEOUT 300
        ENVIRONMENT XENO_GDB_CHECKPOINT_INTERVAL=1 SKIP_REGULAR_EXPRESSION "gdb not installed")
endforeach()
