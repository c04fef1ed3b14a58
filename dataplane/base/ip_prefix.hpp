#pragma once
// An IPv4 or IPv6 prefix: the one type for the UAPI's allowed_ip, the cryptokey routing table,
// the mesh spec's CIDRs and the XDP program's allowed endpoints (docs/LAYERS.md, floor 0). In
// namespace strait itself, so that every room finds it unqualified.

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace strait {

// The values are the UAPI's and the XDP map key's family byte.
enum class IpFamily : std::uint8_t { v4 = 4, v6 = 6 };

// An address and a prefix length. The address is kept as written (host bits may be set): the
// allowed-IPs table and the XDP map clear them on insertion, as the Linux module and
// wireguard-go do, and the mesh spec refuses them with a hint (control/prefix.hpp).
struct IpPrefix {
  IpFamily family = IpFamily::v4;
  std::array<std::uint8_t, 16> addr{};  // network byte order; IPv4 uses the first 4 bytes
  std::uint8_t len = 0;                 // <= 32 for IPv4, <= 128 for IPv6

  // "10.0.0.0/24", "fd00::/64": the UAPI's allowed_ip, a wire format. The prefix length is
  // mandatory, as in netip.ParsePrefix; digits only, no leading zero. Errors are EINVAL.
  [[nodiscard]] static Result<IpPrefix> parse(std::string_view text);
  // As parse, and a bare address is its host prefix (/32, /128), as ip(8) reads it.
  [[nodiscard]] static Result<IpPrefix> parse_host_or_prefix(std::string_view text);

  [[nodiscard]] static IpPrefix v4(const std::array<std::uint8_t, 4>& a, std::uint8_t len);
  [[nodiscard]] static IpPrefix v6(const std::array<std::uint8_t, 16>& a, std::uint8_t len);

  // The address bits of the family: 32 or 128.
  [[nodiscard]] unsigned max_len() const noexcept { return family == IpFamily::v4 ? 32 : 128; }
  // The same prefix with the host bits (and the unused bytes of IPv4) cleared.
  [[nodiscard]] IpPrefix masked() const noexcept;
  // "10.0.0.0/24", "fd00::/64" (inet_ntop's form): what UAPI get=1 writes.
  [[nodiscard]] std::string to_string() const;

  // Family, then address, then length: sorted output lists IPv4 first.
  friend bool operator==(const IpPrefix&, const IpPrefix&) = default;
  // (clang-tidy 14 sees the literal 0 of the defaulted comparison's expansion.)
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
};

}  // namespace strait
