#include "packet/tcp_mss.hpp"

#include <cstring>

#include "packet/checksum.hpp"
#include "packet/headers.hpp"

namespace strait::dp {

bool clamp_tcp_mss(std::uint8_t* ip, const InnerInfo& inner, std::uint16_t max_mss) noexcept {
  if (max_mss == 0 || inner.is_keepalive || inner.protocol != kIpProtoTcp) return false;
  if (!inner.is_ipv6) {
    const auto h = load_header<Ipv4Hdr>(ip);
    // Only the first fragment holds the TCP header, and a SYN is never fragmented in practice;
    // leave every fragment alone rather than parse a header that may be cut.
    if ((h.frag_off_be & kIpv4FragmentMaskBe) != 0) return false;
  }
  const std::uint32_t l4_len = inner.ip_len - inner.header_len;
  if (l4_len < kTcpHdrLen) return false;
  std::uint8_t* tcp = ip + inner.header_len;
  const auto th = load_header<TcpHdr>(tcp);
  if ((th.flags & kTcpSyn) == 0) return false;
  const std::uint32_t doff = (th.data_off >> 4) * 4U;
  if (doff < kTcpHdrLen || doff > l4_len) return false;

  // RFC 9293 section 3.2: kinds 0 (end of list) and 1 (no-op) are one byte; every other
  // option is kind, length (counting both), data. The whole list is checked before anything
  // is written, so a malformed one is left exactly as it came. Each step advances by at least
  // one byte.
  std::uint32_t mss_at = 0;
  for (std::uint32_t i = kTcpHdrLen; i < doff;) {
    const std::uint8_t kind = tcp[i];
    if (kind == kTcpOptEnd) break;
    if (kind == kTcpOptNop) {
      ++i;
      continue;
    }
    if (i + 1 >= doff) return false;
    const std::uint32_t len = tcp[i + 1];
    if (len < 2 || i + len > doff) return false;
    if (kind == kTcpOptMss) {
      if (len != 4 || mss_at != 0) return false;
      mss_at = i + 2;
    }
    i += len;
  }
  if (mss_at == 0) return false;
  std::uint16_t old_raw;
  std::memcpy(&old_raw, tcp + mss_at, 2);
  if (be16_to_cpu(old_raw) <= max_mss) return false;
  const std::uint16_t new_raw = cpu_to_be16(max_mss);
  std::memcpy(tcp + mss_at, &new_raw, 2);
  // The checksum sums 16-bit words counted from the start of the segment. A field at an odd
  // offset straddles two words and contributes its bytes swapped, and the one's complement
  // sum commutes with byte swapping (RFC 1071 section 2(B)).
  const bool odd = (mss_at & 1U) != 0;
  const std::uint16_t check = checksum_update16(th.checksum_be, odd ? bswap16(old_raw) : old_raw,
                                                odd ? bswap16(new_raw) : new_raw);
  std::memcpy(tcp + offsetof(TcpHdr, checksum_be), &check, 2);
  return true;
}

}  // namespace strait::dp
