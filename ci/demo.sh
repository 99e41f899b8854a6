#!/usr/bin/env bash
# Install what is missing, build the sim build and run the demo scenario:
# the guest's console, then the summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

bash ci/install-deps.sh
cmake --preset sim
cmake --build --preset sim --target xeno scenario-hello
build/sim/xeno run scenarios/hello
