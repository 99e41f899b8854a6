# cmake -DXENO=<xeno> -DLINUX_DIR=<dir> -DPROFILE=<p> -DSMP=<n> -DOUT=<prefix> -P linux_record_replay.cmake
#
# `xeno record` of Debian's kernel booting (as linux_boot.cmake boots it, by
# its PVH entry, to its /init and ACPI power-off), then `xeno replay` of the
# recording in another process: every exit, every checkpoint of guest RAM
# and the end must be identical. Without a kernel in LINUX_DIR it says
# "skipped" (ci/fetch-linux.sh fetches it).
foreach(var XENO LINUX_DIR PROFILE SMP OUT)
    if(NOT DEFINED ${var})
        message(FATAL_ERROR "linux_record_replay.cmake: -D${var}=... is required")
    endif()
endforeach()
include(${CMAKE_CURRENT_LIST_DIR}/linux_common.cmake)
if(NOT EXISTS ${LINUX_DIR}/vmlinuz OR NOT EXISTS ${LINUX_DIR}/initramfs.cpio)
    message(STATUS "no kernel in ${LINUX_DIR} (run ci/fetch-linux.sh): skipped")
    return()
endif()
get_filename_component(out_dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${out_dir})

set(recording ${OUT}.rec)
execute_process(COMMAND ${XENO} record ${recording} -- --kernel ${LINUX_DIR}/vmlinuz
                        --initrd ${LINUX_DIR}/initramfs.cpio --append "console=hvc0 panic=-1" -m 256 --pvh
                        --smp ${SMP} --profile ${PROFILE}
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
xeno_require_poweroff("record" "${status}" "${stdout}" "${stderr}")
if(NOT stdout MATCHES "xeno-init: ok")
    message(FATAL_ERROR "record: /init did not run:\n${stdout}")
endif()
string(REGEX MATCH "record: [^\n]*" line "${stdout}")
if(NOT line)
    message(FATAL_ERROR "record: no `record:` line:\n${stdout}\n${stderr}")
endif()
message(STATUS "${line}")

execute_process(COMMAND ${XENO} replay ${recording}
    RESULT_VARIABLE status OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
message(STATUS "replay: exit status ${status}: ${stdout}${stderr}")
if(NOT status EQUAL 0 OR NOT stdout MATCHES "^replay: identical \\(")
    message(FATAL_ERROR "the replay of ${recording} is not identical (exit status ${status}):\n${stdout}${stderr}")
endif()
