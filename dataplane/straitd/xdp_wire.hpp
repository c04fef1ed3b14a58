#pragma once
// straitd's side of the XDP program on a net_af_xdp wire port (ebpf/README.md; README.md in
// this directory, "XDP"). The PMD loads the object (xdp_prog=<path>) and attaches it when the
// port starts; straitd then adopts it through the kernel, sets the tunnel port (until then
// the program passes everything), keeps live_indices equal to the receiver indices of the
// published snapshot, and reads the per-reason drop counters for the UAPI.
//
// Control path only (slow-path thread and main): it allocates, and map errors are logged, not
// fatal: without the program's help straitd still works, it only loses the early drop.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/drop_reason.hpp"
#include "core/types.hpp"
#include "pipeline/forwarding_state.hpp"
#include "straitd/options.hpp"

namespace strait::straitd {

// Value of `key` in comma-separated devargs ("net_af_xdp0,iface=eth0,xdp_prog=/x.o"), or
// nullopt when absent.
[[nodiscard]] std::optional<std::string> devarg_value(std::string_view devargs,
                                                      std::string_view key);
// True for a net_af_xdp vdev.
[[nodiscard]] bool is_af_xdp(std::string_view devargs);

class XdpWire {
 public:
  // Before the wire port opens. For a net_af_xdp port (and a build with libbpf): removes a
  // program and pins a crashed run left on the interface, and adds xdp_prog=<object> to
  // `devargs` unless it names one or --no-xdp-program. Null when there is nothing to manage.
  [[nodiscard]] static std::unique_ptr<XdpWire> prepare(const Options& o, std::string& devargs);
  ~XdpWire();  // unpins (the PMD detaches the program when it closes the port)
  XdpWire(const XdpWire&) = delete;
  XdpWire& operator=(const XdpWire&) = delete;

  // After the port started: adopts the program the PMD attached and configures it. False (and
  // a warning) when no strait_xdp program is there.
  bool adopt(std::uint16_t tunnel_port);
  void set_tunnel_port(std::uint16_t port);
  // live_indices := the receiver indices of the snapshot's keypairs, with their cipher.
  void sync(const dp::ForwardingState& state);
  // Adds the program's drops, per reason.
  void add_drops(std::array<std::uint64_t, kDropReasonCount>& into) const;
  // Detaches (when we attached) and removes the pins; idempotent.
  void close();

 private:
  struct Impl;
  explicit XdpWire(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strait::straitd
