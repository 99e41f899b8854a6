// xeno-pvh-payload IN OUT: what `xeno run --pvh` hands the hypervisor, as a
// file: IN itself when it is an ELF, else the decompressed ELF payload of the
// bzImage IN (harness/kernel_payload.hpp). The hw build's ISOs of scenarios
// with [guest] pvh = true carry OUT as their "kernel" module
// (src/hal/hw/CMakeLists.txt), so both builds boot the same ELF.
// Exit status 0, or 2 with one `xeno-pvh-payload: error: ...` line.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "harness/kernel_payload.hpp"

int main(int argc, char** argv)
{
    if (argc != 3) {
        std::cerr << "usage: xeno-pvh-payload KERNEL OUT_ELF\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "xeno-pvh-payload: error: cannot read " << argv[1] << '\n';
        return 2;
    }
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto elf = xeno::harness::pvh_kernel(std::move(bytes), std::string("kernel ") + argv[1]);
    if (!elf.ok()) {
        std::cerr << "xeno-pvh-payload: error: " << elf.error() << '\n';
        return 2;
    }
    std::ofstream out(argv[2], std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(elf.value().data()), static_cast<std::streamsize>(elf.value().size()));
    out.close();
    if (!out) {
        std::cerr << "xeno-pvh-payload: error: cannot write " << argv[2] << '\n';
        std::remove(argv[2]);
        return 2;
    }
    return 0;
}
