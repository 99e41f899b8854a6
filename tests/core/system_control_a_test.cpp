#include <catch2/catch.hpp>

#include "devices/io_bus.hpp"
#include "devices/system_control_a.hpp"

using namespace xeno;
using devices::SystemControlA;

namespace {
void count_reset(void* context) { ++*static_cast<int*>(context); }
}  // namespace

TEST_CASE("port 0x92: A20 on from reset, gate bit read back as written", "[devices][a20]")
{
    int resets = 0;
    SystemControlA port(&count_reset, &resets);
    devices::IoBus bus;
    REQUIRE(bus.attach(SystemControlA::kPort, SystemControlA::kPort, devices::port_device(port), true) == Status::OK);
    CHECK(bus.read(0x92, 1) == 0x02);
    CHECK(port.a20_enabled());
    bus.write(0x92, 1, 0x00);
    CHECK(bus.read(0x92, 1) == 0x00);
    CHECK_FALSE(port.a20_enabled());
    bus.write(0x92, 1, 0xc2);  // A20 plus the two LED bits
    CHECK(bus.read(0x92, 1) == 0xc2);
    CHECK(port.a20_enabled());
    CHECK(resets == 0);
    CHECK(port.reset_requests() == 0);
}

TEST_CASE("port 0x92: bit 0 requests a reset and reads back 0", "[devices][a20]")
{
    int resets = 0;
    SystemControlA port(&count_reset, &resets);
    port.pio_write(0x92, 1, 0x03);
    CHECK(resets == 1);
    CHECK(port.reset_requests() == 1);
    CHECK(port.pio_read(0x92, 1) == 0x02);
    port.pio_write(0x92, 1, 0x01);
    CHECK(resets == 2);
    CHECK_FALSE(port.a20_enabled());
}
