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

# The kernel booted as a Xen PVH guest (docs/xen-abi.md) with `cpus` vcpus:
# it says so, uses 2-level event channels through the callback vector, Xen's
# clocksource and a Xen timer on every vcpu; with console=hvc0 the rest of
# its output came through the PV console ring.
function(xeno_require_xen_pvh what stdout cpus)
    math(EXPR last_cpu "${cpus} - 1")
    foreach(marker "Booting kernel on Xen PVH" "xen:events: Using 2-level ABI"
                   "xen:events: Xen HVM callback vector for event delivery is enabled"
                   "installing Xen timer for CPU ${last_cpu}" "clocksource: Switched to clocksource xen"
                   "Grant table initialized")
        string(FIND "${stdout}" "${marker}" at)
        if(at EQUAL -1)
            message(FATAL_ERROR "${what}: the kernel did not say \"${marker}\":\n${stdout}")
        endif()
    endforeach()
    # An MSR the guest's CPUID promises must exist: the kernel reads and
    # writes such MSRs expecting no fault, and says so when one #GPs.
    string(REGEX MATCH "unchecked MSR access error[^\n]*" msr_fault "${stdout}")
    if(msr_fault)
        message(FATAL_ERROR "${what}: an MSR the kernel was promised faulted: ${msr_fault}")
    endif()
    # CPUID shows the vcpus as the cores of one package
    # (src/arch/x86/vmx/cpuid_topology.hpp): an AP takes the delay-loop
    # figure of the BSP, a core of its package, instead of measuring it again
    # (which, with each vcpu a package of its own, ended in this message).
    string(FIND "${stdout}" "calibrate_delay_direct() failed" at)
    if(NOT at EQUAL -1)
        message(FATAL_ERROR "${what}: an AP calibrated its delay loop again (is it in a package of its own?)")
    endif()
endfunction()
