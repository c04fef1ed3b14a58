#pragma once
// The inner packets strait-pktgen sends and recognises: IPv4 ICMP echo (RFC 792) whose data
// starts with a probe, {magic, sequence number, TSC at transmission}, then zero padding to
// the chosen size. ICMP echo because a host behind the DUT answers it with the same data
// (direction loop) and needs no reflector; the decap and encap directions see requests only.
// The ICMP and IPv4 checksums are real: the DUT's host verifies them.
//
// Per packet: no allocation, no exceptions.

#include <cstdint>
#include <cstring>
#include <optional>

#include "packet/checksum.hpp"
#include "packet/headers.hpp"

namespace strait::pktgen {

inline constexpr std::uint32_t kProbeMagic = 0x53504b47;  // "SPKG"

struct Probe {
  std::uint32_t magic;
  std::uint32_t peer;  // index of the sending peer
  std::uint64_t seq;
  std::uint64_t tx_tsc;
};
static_assert(sizeof(Probe) == 24);

inline constexpr std::size_t kProbeOffset = dp::kIpv4HdrLen + sizeof(dp::IcmpEchoHdr);

// Writes one inner packet of `size` bytes (>= kProbeOffset + sizeof(Probe)) at `p`.
inline void write_probe_packet(std::uint8_t* p, std::uint16_t size,
                               const std::array<std::uint8_t, 4>& src,
                               const std::array<std::uint8_t, 4>& dst,
                               const Probe& probe) noexcept {
  dp::Ipv4Hdr ip{};
  ip.version_ihl = dp::kIpv4VersionIhl5;
  ip.total_len_be = dp::cpu_to_be16(size);
  ip.id_be = static_cast<std::uint16_t>(probe.seq);
  ip.frag_off_be = dp::kIpv4FlagDfBe;
  ip.ttl = 64;
  ip.protocol = dp::kIpProtoIcmp;
  std::memcpy(ip.src, src.data(), 4);
  std::memcpy(ip.dst, dst.data(), 4);
  dp::store_header(p, ip);
  const std::uint16_t ip_sum = dp::internet_checksum(p, dp::kIpv4HdrLen);
  std::memcpy(p + offsetof(dp::Ipv4Hdr, checksum_be), &ip_sum, 2);

  dp::IcmpEchoHdr icmp{};
  icmp.type = dp::kIcmpEchoRequest;
  icmp.id_be = dp::cpu_to_be16(static_cast<std::uint16_t>(probe.peer));
  icmp.seq_be = dp::cpu_to_be16(static_cast<std::uint16_t>(probe.seq));
  dp::store_header(p + dp::kIpv4HdrLen, icmp);
  std::memcpy(p + kProbeOffset, &probe, sizeof probe);
  std::memset(p + kProbeOffset + sizeof probe, 0, size - kProbeOffset - sizeof probe);
  const std::uint16_t icmp_sum = dp::internet_checksum(p + dp::kIpv4HdrLen, size - dp::kIpv4HdrLen);
  std::memcpy(p + dp::kIpv4HdrLen + offsetof(dp::IcmpEchoHdr, checksum_be), &icmp_sum, 2);
}

// The probe of an inner IPv4 packet of `len` bytes at `p` (an echo request or reply we sent,
// or the answer to one), or nullopt.
[[nodiscard]] inline std::optional<Probe> read_probe(const std::uint8_t* p,
                                                     std::size_t len) noexcept {
  if (len < kProbeOffset + sizeof(Probe) || p[0] != dp::kIpv4VersionIhl5 ||
      p[9] != dp::kIpProtoIcmp)
    return std::nullopt;
  const std::uint8_t type = p[dp::kIpv4HdrLen];
  if (type != dp::kIcmpEchoRequest && type != dp::kIcmpEchoReply) return std::nullopt;
  Probe probe;
  std::memcpy(&probe, p + kProbeOffset, sizeof probe);
  if (probe.magic != kProbeMagic) return std::nullopt;
  return probe;
}

}  // namespace strait::pktgen
