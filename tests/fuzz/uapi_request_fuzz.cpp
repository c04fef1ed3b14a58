// libFuzzer target: the UAPI text protocol (dataplane/uapi/protocol.hpp) on hostile input, as
// straitd's server reads it from any process that can open its socket. Input byte 0 picks:
//   even: the rest is a set request body (parse_set);
//   odd:  the rest is a get reply (parse_get), as strait-agent reads it from a daemon.
// Beyond "no crash, no sanitizer report", what parses must survive round trips: what
// render_set / render_get write (what strait-agent sends, what straitd answers) parses again,
// and after one render + parse the value is a fixed point (render + parse gives it back). One
// pass may normalise what the renderers document (render_get skips drop counters whose name is
// not [a-z0-9_]+, which parse_get accepts), a second pass may change nothing.
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
    const auto once = parse_set(render_set(change.value()));
    if (!once.ok()) __builtin_trap();
    const auto twice = parse_set(render_set(once.value()));
    if (!twice.ok() || !(twice.value() == once.value())) __builtin_trap();
  } else {
    const auto state = parse_get(text);
    if (!state.ok()) return 0;
    const auto once = parse_get(render_get(state.value()));
    if (!once.ok()) __builtin_trap();
    const auto twice = parse_get(render_get(once.value()));
    if (!twice.ok() || !(twice.value() == once.value())) __builtin_trap();
  }
  return 0;
}
