// What a recording keeps of a run, taken from the running machine: the
// configuration and its inputs as digests, the guest state at each VM exit,
// and machine memory page by page at checkpoints.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/recording_format.hpp"
#include "sim/platform/exit_event.hpp"
#include "sim/platform/machine.hpp"

namespace xeno::harness {

// XXH3-128 of `bytes`, with its name and size.
InputDigest digest_input(std::string name, const std::vector<std::uint8_t>& bytes);

// The RTC's epoch the hypervisor takes from `cmdline` (rtc_epoch=, else its
// default). It is an input of the run like the files: a replay gives the
// guest the recorded one even if this xeno's default differs.
std::uint64_t rtc_epoch_of(const std::string& cmdline);

// The machine part of a recording's configuration (everything but the run's
// arguments and the checkpoint settings).
RecordedConfig describe_machine(const sim::MachineConfig& config);

// How the machine `now` differs from the recorded one, as one line naming
// the first difference ("the kernel (boot module 0) changed: 8123456
// bytes, xxh128 ... when recorded, now ..."), or nothing when it is the same.
std::optional<std::string> machine_difference(const RecordedConfig& recorded, const RecordedConfig& now);

// The guest state of an exit event (exit_event.hpp; its registers as they
// are when the observer is called).
GuestState guest_state(const sim::ExitEvent& event);
// An exit's record as it is taken (its `handled` state still to come).
ExitRecord exit_taken_record(const sim::ExitEvent& event);

// "IO_INSTRUCTION (30)", "VM-entry failure ... (33)" for an exit reason field.
std::string reason_text(std::uint32_t reason);
// "exit 18234 IO_INSTRUCTION (30) on vcpu 1 at rip 0x...".
std::string exit_text(std::uint64_t number, std::uint32_t reason, std::uint32_t vcpu, std::uint64_t rip);
// One line per field that differs: "<name>: <was_word> <was>, now <now>" (hex).
void compare_state(const GuestState& was, const GuestState& now, const char* was_word,
                   std::vector<std::string>& out);
// Ends the run at the next point the engine checks, with `why`: the
// machine's own external stop, the one its wall-time watchdog uses (the
// domain ends through the hypervisor's normal returns). Nothing for an
// event that is not the simulated machine's (a test's stand-in).
void stop_machine(const sim::ExitEvent& event, const std::string& why);

// XXH3-64 of each 4 KiB page of guest RAM in guest-physical order, read
// through the running domain's p2m (core/run_stats.hpp) from the event's
// machine memory, into `hashes` (resized to the p2m's guest frames; a frame
// without RAM, a hole, hashes to kNoPageHash). Guest RAM, not all of
// machine memory: the hypervisor's own pages hold host addresses (its
// stacks, function pointers), which differ from one process to the next.
inline constexpr std::uint64_t kNoPageHash = 0;
void hash_guest_pages(const sim::ExitEvent& event, std::vector<std::uint64_t>& hashes);

// How a run ended, as END records it; `console` is the guest's console output.
EndRecord end_record(const sim::MachineResult& result, const std::string& console);

// XXH3-64 of an all-zero page: every page of fresh machine memory, and the
// reference of a recording's first checkpoint.
std::uint64_t zero_page_hash();

// xxh64 of a byte string (the console witness of END).
std::uint64_t hash_bytes(const void* data, std::size_t size);

}  // namespace xeno::harness
