# The fuzz build (preset `fuzz`): libFuzzer targets in fuzz/. Every library
# (xeno_hv, xeno_sim, xeno_harness) is compiled with libFuzzer's coverage
# instrumentation (fuzzer-no-link) and AddressSanitizer + UBSan, so the fuzzer
# sees the edges of the code under test and any memory error or undefined
# behaviour in it ends the run as a crash. Only the fuzz targets themselves
# link libFuzzer's main (fuzz/CMakeLists.txt).
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "XENO_FUZZ needs clang (libFuzzer): configure with the `fuzz` preset or "
        "-DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14")
endif()
if(NOT XENO_PLATFORM STREQUAL "sim")
    message(FATAL_ERROR "XENO_FUZZ applies to the sim build only")
endif()
if(XENO_SANITIZE)
    message(FATAL_ERROR "XENO_FUZZ already builds with AddressSanitizer and UBSan: leave XENO_SANITIZE off")
endif()
set(XENO_FUZZ_SANITIZERS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
add_compile_options(-fsanitize=fuzzer-no-link ${XENO_FUZZ_SANITIZERS})
add_link_options(${XENO_FUZZ_SANITIZERS})
add_compile_definitions(XENO_SANITIZE=1)
