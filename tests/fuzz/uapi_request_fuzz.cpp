// libFuzzer target: the UAPI text protocol (dataplane/uapi/protocol.hpp) on hostile input, as
// straitd's server reads it from any process that can open its socket. Input byte 0 picks:
//   even: the rest is a set request body (parse_set);
//   odd:  the rest is a get reply (parse_get), as strait-agent reads it from a daemon.
// Beyond "no crash, no sanitizer report", what parses must survive a round trip: rendering
// the parsed value and parsing that again gives the same value (render_set / render_get are
// what strait-agent sends and straitd answers, so a value that does not survive is a bug).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "uapi/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  using namespace strait::uapi;
  if (data[0] % 2 == 0) {
    const auto change = parse_set(text);
    if (!change.ok()) return 0;
    const auto again = parse_set(render_set(change.value()));
    if (!again.ok() || !(again.value() == change.value())) __builtin_trap();
  } else {
    const auto state = parse_get(text);
    if (!state.ok()) return 0;
    const auto again = parse_get(render_get(state.value()));
    if (!again.ok() || !(again.value() == state.value())) __builtin_trap();
  }
  return 0;
}
