#pragma once
// The slow path's next-hop MACs of outer destinations (peers' endpoints, datagrams waiting for
// one), in front of the kernel's neighbour table (kernel_neighbours.hpp), whose every question
// is a netlink round trip on the one slow-path thread.
//
// Bounded: at most `max_entries` destinations. An entry not asked for in kIdleNs is forgotten
// (expire()), and when the cache is full a new destination evicts the least recently asked one.
// Only destinations the slow path chose are resolved here (configured or authenticated
// endpoints): a reply to a message that proved nothing (a cookie reply to an initiation with
// a valid mac1, whose source may be spoofed) goes back to the Ethernet source of the frame it
// answers (slow_path.cpp), so a flood of spoofed sources neither grows this cache nor costs a
// netlink round trip (issue 11).
//
// Sans-I/O: the resolver and the time are passed in. Slow-path thread only; allocates.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

#include "packet/headers.hpp"

namespace strait::straitd {

class NeighbourCache {
 public:
  // The kernel's view (KernelNeighbours::lookup / solicit in straitd; fakes in the tests).
  struct Resolver {
    std::function<std::optional<dp::MacAddr>(const dp::IpAddr16&)> lookup;
    std::function<void(const dp::IpAddr16&, std::uint16_t port)> solicit;
  };

  static constexpr std::size_t kDefaultMaxEntries = 4096;
  // A resolved MAC is read again from the kernel after this long (the peer's host may change).
  static constexpr std::int64_t kRefreshNs = 30'000'000'000;
  // An unresolved destination is asked about at most this often, and solicited at most once
  // per kSolicitIntervalNs.
  static constexpr std::int64_t kRetryNs = 20'000'000;
  static constexpr std::int64_t kSolicitIntervalNs = 1'000'000'000;
  // Forgotten when not asked for this long (a live peer's endpoint is asked at every publish).
  static constexpr std::int64_t kIdleNs = 300'000'000'000;

  explicit NeighbourCache(Resolver resolver, std::size_t max_entries = kDefaultMaxEntries)
      : resolver_(std::move(resolver)), max_entries_(max_entries) {}

  struct Answer {
    std::optional<dp::MacAddr> mac;  // nothing while unresolved (resolution has been started)
    bool changed = false;            // the kernel gave a MAC other than the one cached
  };
  // The next-hop MAC of `dst` (IPv4-mapped for IPv4), `port` its UDP port (for solicit).
  // Until the kernel knows better, the last MAC it gave is kept.
  [[nodiscard]] Answer resolve(const dp::IpAddr16& dst, std::uint16_t port, std::int64_t now_ns);

  // Forgets the entries not asked for in kIdleNs.
  void expire(std::int64_t now_ns);

  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::optional<dp::MacAddr> mac;
    std::int64_t checked_ns = 0;
    std::int64_t solicited_ns = 0;
    bool checked = false;
    bool solicited = false;
    std::int64_t used_ns = 0;
  };
  Entry& entry_for(const dp::IpAddr16& dst, std::int64_t now_ns);

  Resolver resolver_;
  std::size_t max_entries_;
  std::map<dp::IpAddr16, Entry> entries_;
};

}  // namespace strait::straitd
