#!/usr/bin/env bash
# Install what is missing, build both builds and run the whole test suite:
#   sim      (the hypervisor on the software VMX model: unit, scenario, determinism,
#             Bochs and linux tests)
#   hw       (the bare-metal kernel: its few tests)
#   sim-asan (the sim build under AddressSanitizer + UndefinedBehaviorSanitizer)
#   fuzz     (clang-14 libFuzzer targets, each run briefly from its corpus: label fuzz)
# Stops at the first failure; the exit status says whether everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "install dependencies"
bash ci/install-deps.sh

step "fetch Debian's kernel and busybox for the linux tests (build/linux)"
bash ci/fetch-linux.sh

for preset in sim hw; do
    step "configure and build: $preset"
    cmake --preset "$preset"
    cmake --build --preset "$preset"
done

step "test: sim"
ctest --preset sim -LE bochs-full
step "test: hw"
ctest --preset hw

step "configure, build and test: sim-asan"
cmake --preset sim-asan
cmake --build --preset sim-asan
ctest --preset sim-asan -LE bochs-full

step "configure, build and test: fuzz"
cmake --preset fuzz
cmake --build --preset fuzz
ctest --preset fuzz

step "all tests passed"
