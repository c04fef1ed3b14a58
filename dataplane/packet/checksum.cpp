#include "packet/checksum.hpp"

#include <cstring>

#include "packet/headers.hpp"

namespace strait::dp {

namespace {

// Reduces the 64-bit accumulator to a 32-bit partial sum with end-around carries. Adding 2^32
// is adding 1 modulo 0xffff, so the checksum is unchanged.
constexpr std::uint32_t fold_to_32(std::uint64_t sum) noexcept {
  sum = (sum & 0xffffffffU) + (sum >> 32);
  sum = (sum & 0xffffffffU) + (sum >> 32);
  return static_cast<std::uint32_t>(sum);
}

inline std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The sum of the two 32-bit halves of a native 64-bit load equals, modulo 0xffff, the sum of
// its four native 16-bit words, whatever the CPU's byte order: that is the whole trick.
inline std::uint64_t halves(std::uint64_t w) noexcept { return (w & 0xffffffffU) + (w >> 32); }

}  // namespace

std::uint32_t checksum_partial(const std::uint8_t* data, std::size_t len,
                               std::uint32_t sum) noexcept {
  std::uint64_t acc = sum;
  // Four independent loads per iteration; an iteration adds < 2^35, so no input below 4 GiB
  // can overflow the accumulator.
  while (len >= 32) {
    acc += halves(load64(data)) + halves(load64(data + 8)) + halves(load64(data + 16)) +
           halves(load64(data + 24));
    data += 32;
    len -= 32;
  }
  while (len >= 8) {
    acc += halves(load64(data));
    data += 8;
    len -= 8;
  }
  if (len >= 4) {
    std::uint32_t w;
    std::memcpy(&w, data, sizeof w);
    acc += w;
    data += 4;
    len -= 4;
  }
  if (len >= 2) {
    std::uint16_t w;
    std::memcpy(&w, data, sizeof w);
    acc += w;
    data += 2;
    len -= 2;
  }
  if (len == 1) {
    // The odd byte is the first (high-order) byte of a zero-padded word: copy it into the first
    // byte of a zeroed word so the native load puts it where that word's first byte goes.
    std::uint16_t w = 0;
    std::memcpy(&w, data, 1);
    acc += w;
  }
  return fold_to_32(acc);
}

std::uint16_t internet_checksum(const std::uint8_t* data, std::size_t len) noexcept {
  return checksum_finish(checksum_partial(data, len));
}

std::uint32_t pseudo_header_sum_v4(const std::uint8_t* src4, const std::uint8_t* dst4,
                                   std::uint8_t protocol, std::uint16_t l4_len) noexcept {
  std::uint32_t s, d;
  std::memcpy(&s, src4, 4);
  std::memcpy(&d, dst4, 4);
  // The wire words {0, protocol} and {length}, loaded natively, are their big-endian values.
  const std::uint64_t acc =
      static_cast<std::uint64_t>(s) + d + cpu_to_be16(protocol) + cpu_to_be16(l4_len);
  return fold_to_32(acc);
}

std::uint32_t pseudo_header_sum_v6(const std::uint8_t* src16, const std::uint8_t* dst16,
                                   std::uint8_t next_header, std::uint32_t l4_len) noexcept {
  std::uint64_t acc = halves(load64(src16)) + halves(load64(src16 + 8)) + halves(load64(dst16)) +
                      halves(load64(dst16 + 8));
  acc += cpu_to_be32(l4_len);
  acc += cpu_to_be32(next_header);
  return fold_to_32(acc);
}

std::uint16_t l4_checksum_v4(const std::uint8_t* src4, const std::uint8_t* dst4,
                             std::uint8_t protocol, const std::uint8_t* l4,
                             std::uint16_t len) noexcept {
  return checksum_finish(
      checksum_partial(l4, len, pseudo_header_sum_v4(src4, dst4, protocol, len)));
}

std::uint16_t l4_checksum_v6(const std::uint8_t* src16, const std::uint8_t* dst16,
                             std::uint8_t next_header, const std::uint8_t* l4,
                             std::uint32_t len) noexcept {
  return checksum_finish(
      checksum_partial(l4, len, pseudo_header_sum_v6(src16, dst16, next_header, len)));
}

std::uint16_t udp4_checksum(const std::uint8_t* src4, const std::uint8_t* dst4,
                            const std::uint8_t* udp, std::uint16_t len) noexcept {
  const std::uint16_t c = l4_checksum_v4(src4, dst4, kIpProtoUdp, udp, len);
  return c == 0 ? 0xffff : c;
}

std::uint16_t udp6_checksum(const std::uint8_t* src16, const std::uint8_t* dst16,
                            const std::uint8_t* udp, std::uint32_t len) noexcept {
  const std::uint16_t c = l4_checksum_v6(src16, dst16, kIpProtoUdp, udp, len);
  return c == 0 ? 0xffff : c;
}

}  // namespace strait::dp
