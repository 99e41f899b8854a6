#include "sim/platform/sim_context.hpp"

#include "hal/panic.hpp"

namespace xeno::sim {

namespace {
SimContext* g_context = nullptr;
}

SimContext& sim_context()
{
    if (!g_context) hal::panic("sim: no machine is running");
    return *g_context;
}

void set_sim_context(SimContext* ctx) { g_context = ctx; }

}  // namespace xeno::sim
