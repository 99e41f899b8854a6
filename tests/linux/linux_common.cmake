# Shared by linux_boot.cmake and linux_bochs.cmake: a run of `xeno run` or
# `xeno bochs` booting Debian's kernel must end by ACPI power-off with status
# 0. Fails the test with what it printed last (the console's last 6000 bytes
# and stderr) when it did not. `what` names the run in the message.
function(xeno_require_poweroff what status stdout stderr)
    string(REGEX MATCH "summary: [^\n]*" summary "${stdout}")
    message(STATUS "${what}: exit status ${status}; ${summary}")
    if(status EQUAL 0 AND summary MATCHES " status=0 " AND summary MATCHES " end=poweroff")
        return()
    endif()
    string(LENGTH "${stdout}" n)
    if(n GREATER 6000)
        math(EXPR from "${n} - 6000")
        string(SUBSTRING "${stdout}" ${from} 6000 stdout)
    endif()
    message(FATAL_ERROR "${what}: the kernel did not power off with status 0 (exit status ${status}):\n"
        "...${stdout}\n${stderr}")
endfunction()
