# Compiler flags. src/ is freestanding in both builds (no exceptions, no RTTI,
# no hosted library); sim/, harness/ and tests/ are ordinary hosted C++.

set(XENO_WARNINGS -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wimplicit-fallthrough -Wnull-dereference -Wdouble-promotion -Wformat=2)
if(XENO_WERROR)
    list(APPEND XENO_WARNINGS -Werror)
endif()

set(XENO_FREESTANDING_FLAGS -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics
    -fno-use-cxa-atexit)

if(XENO_PLATFORM STREQUAL "hw")
    # Kernel code model, no red zone (interrupts would clobber it), no SIMD
    # state the hypervisor would have to save, no position independence.
    list(APPEND XENO_FREESTANDING_FLAGS -mno-red-zone -mcmodel=kernel -mgeneral-regs-only -fno-pic -fno-pie
        -fno-stack-protector -fno-asynchronous-unwind-tables -fno-omit-frame-pointer)
endif()

if(XENO_SANITIZE)
    if(NOT XENO_PLATFORM STREQUAL "sim")
        message(FATAL_ERROR "XENO_SANITIZE applies to the sim build only")
    endif()
    set(XENO_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
    add_compile_options(${XENO_SANITIZER_FLAGS})
    add_link_options(${XENO_SANITIZER_FLAGS})
    add_compile_definitions(XENO_SANITIZE=1)
endif()

# Flags for a target of Xeno's own hosted code (sim/, harness/, tests/, bench/).
function(xeno_hosted_target target)
    target_compile_options(${target} PRIVATE ${XENO_WARNINGS})
    target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR})
endfunction()
