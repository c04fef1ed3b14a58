#pragma once
// The next-hop MAC of an outer destination, from the kernel's routing and neighbour tables
// (rtnetlink, RFC 3549), for wire ports the kernel shares with us (net_af_packet, net_af_xdp,
// net_tap): there the kernel owns the wire address, answers ARP/ND for it and resolves the
// peers' addresses, so straitd only reads what it learnt. A PCI wire port has no kernel
// interface and uses --wire-gateway-mac instead (README.md, "Outer next hop").
//
// Slow-path thread only: blocking netlink round trips to the local kernel (microseconds).

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "packet/headers.hpp"

namespace strait::straitd {

class KernelNeighbours {
 public:
  // Opens the rtnetlink socket; an error names the errno.
  [[nodiscard]] static Result<KernelNeighbours> open();
  KernelNeighbours(KernelNeighbours&& other) noexcept;
  KernelNeighbours& operator=(KernelNeighbours&&) = delete;
  KernelNeighbours(const KernelNeighbours&) = delete;
  KernelNeighbours& operator=(const KernelNeighbours&) = delete;
  ~KernelNeighbours();

  // The MAC of the next hop towards `dst` (IPv4-mapped for IPv4): the route's gateway, or `dst`
  // itself when it is on-link. Nothing when there is no route or no usable neighbour entry
  // (states REACHABLE, STALE, DELAY, PROBE, PERMANENT; INCOMPLETE and FAILED are not).
  [[nodiscard]] std::optional<dp::MacAddr> lookup(const dp::IpAddr16& dst);

  // Makes the kernel resolve `dst`: sends one empty UDP datagram to dst:port from a kernel
  // socket (ARP/ND starts before the datagram leaves). WireGuard drops an empty datagram as
  // too short for any message type, so the peer sees nothing.
  void solicit(const dp::IpAddr16& dst, std::uint16_t port);

 private:
  explicit KernelNeighbours(int fd) : fd_(fd) {}
  // One request, its reply (the first message of it): false on any error.
  bool round_trip(void* request, std::size_t len, std::string& reply);
  int fd_ = -1;
  std::uint32_t seq_ = 1;
};

}  // namespace strait::straitd
