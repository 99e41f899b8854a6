// build/sim/xeno: the command line (harness/cli.hpp) driving the simulated
// machine (sim/platform/machine.hpp).
#include <iostream>

#include "harness/cli.hpp"
#include "harness/guest_image.hpp"
#include "sim/platform/machine.hpp"

int main(int argc, char** argv)
{
    xeno::harness::CliEnv env{std::cout, std::cerr, xeno::harness::executable_dir(), &xeno::sim::run_machine};
    return xeno::harness::xeno_main(argc, argv, env);
}
