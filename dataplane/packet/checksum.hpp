#pragma once
// The Internet checksum (RFC 1071), its incremental update (RFC 1624) and the pseudo-header
// sums of UDP/TCP/ICMPv6 over IPv4 (RFC 768, RFC 9293) and IPv6 (RFC 8200 section 8.1).
//
// Byte order convention: the one's-complement sum does not depend on byte order
// (RFC 1071 section 2(B)). All sums here are over 16-bit words loaded in the CPU's native
// order straight from wire bytes, so nothing is ever swapped, and a finished checksum is
// returned "in network order": store it with memcpy (or into a *_be field) as it is. To compare
// with a number printed in an RFC, apply be16_to_cpu.
//
// A "partial sum" is an unfolded 32-bit one's-complement accumulator; partial sums of
// several pieces may be chained (each call takes the previous sum as `sum`) provided every
// piece but the last has an even length, since the words must stay aligned to the start.
//
// All functions are noexcept and allocation-free; they run per packet.

#include <cstddef>
#include <cstdint>

namespace strait::dp {

// Adds `len` bytes at `data` to the partial sum `sum`. Reads 8 bytes at a time into a 64-bit
// accumulator (two 32-bit halves per load, so no carry handling inside the loop); an odd last
// byte counts as the high-order byte of a word padded with zero (RFC 1071 section 1).
// len must be below 4 GiB.
[[nodiscard]] std::uint32_t checksum_partial(const std::uint8_t* data, std::size_t len,
                                             std::uint32_t sum = 0) noexcept;

// Folds a partial sum to 16 bits with end-around carries (not complemented).
[[nodiscard]] constexpr std::uint16_t checksum_fold(std::uint64_t sum) noexcept {
  sum = (sum & 0xffffffffU) + (sum >> 32);
  sum = (sum & 0xffffffffU) + (sum >> 32);
  sum = (sum & 0xffffU) + (sum >> 16);
  sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// The checksum field value for a partial sum: the complement of the folded sum.
[[nodiscard]] constexpr std::uint16_t checksum_finish(std::uint64_t sum) noexcept {
  return static_cast<std::uint16_t>(~checksum_fold(sum));
}

// The checksum of a buffer whose checksum field (if any) is zero: ~fold(sum of words).
// Over a buffer that includes a correct checksum the folded sum is 0xffff, so this returns 0:
// that is how a header is verified.
[[nodiscard]] std::uint16_t internet_checksum(const std::uint8_t* data, std::size_t len) noexcept;

// RFC 1624 equation 3: the new checksum when one 16-bit word of the covered data changes from
// old_be to new_be: HC' = ~(~HC + ~m + m'). All three arguments in network order.
[[nodiscard]] constexpr std::uint16_t checksum_update16(std::uint16_t check_be,
                                                        std::uint16_t old_be,
                                                        std::uint16_t new_be) noexcept {
  const std::uint32_t sum = static_cast<std::uint16_t>(~check_be) +
                            static_cast<std::uint32_t>(static_cast<std::uint16_t>(~old_be)) +
                            new_be;
  return checksum_finish(sum);
}

// RFC 1624 for a 32-bit field (an IPv4 address, a TCP sequence number), as two 16-bit words.
// Values are the raw 32-bit loads of the wire bytes (network order).
[[nodiscard]] constexpr std::uint16_t checksum_update32(std::uint16_t check_be,
                                                        std::uint32_t old_be,
                                                        std::uint32_t new_be) noexcept {
  const std::uint64_t sum = static_cast<std::uint16_t>(~check_be) +
                            static_cast<std::uint64_t>(~old_be & 0xffffU) +
                            ((~old_be >> 16) & 0xffffU) + (new_be & 0xffffU) + (new_be >> 16);
  return checksum_finish(sum);
}

// Pseudo-header partial sums. IPv4 (RFC 768 / RFC 9293 section 3.1): source, destination,
// zero, protocol, L4 length. IPv6 (RFC 8200 section 8.1): source, destination, 32-bit upper-layer
// length, three zero bytes, next header. l4_len is in host order.
[[nodiscard]] std::uint32_t pseudo_header_sum_v4(const std::uint8_t* src4, const std::uint8_t* dst4,
                                                 std::uint8_t protocol,
                                                 std::uint16_t l4_len) noexcept;
[[nodiscard]] std::uint32_t pseudo_header_sum_v6(const std::uint8_t* src16,
                                                 const std::uint8_t* dst16,
                                                 std::uint8_t next_header,
                                                 std::uint32_t l4_len) noexcept;

// The checksum of an upper-layer segment (UDP, TCP, ICMPv6) of `len` bytes at `l4`, whose
// checksum field must be zero, including the pseudo-header. Returned as computed: a result of 0
// is stored as 0 (TCP, ICMPv6); UDP maps it to 0xffff (see below).
[[nodiscard]] std::uint16_t l4_checksum_v4(const std::uint8_t* src4, const std::uint8_t* dst4,
                                           std::uint8_t protocol, const std::uint8_t* l4,
                                           std::uint16_t len) noexcept;
[[nodiscard]] std::uint16_t l4_checksum_v6(const std::uint8_t* src16, const std::uint8_t* dst16,
                                           std::uint8_t next_header, const std::uint8_t* l4,
                                           std::uint32_t len) noexcept;

// UDP checksums (the UDP header's checksum field must be zero; len = UDP length). A computed 0
// is sent as 0xffff, because 0 means "no checksum" (RFC 768); over IPv4 the sender may send 0
// instead, over IPv6 the checksum is mandatory (RFC 8200 section 8.1).
[[nodiscard]] std::uint16_t udp4_checksum(const std::uint8_t* src4, const std::uint8_t* dst4,
                                          const std::uint8_t* udp, std::uint16_t len) noexcept;
[[nodiscard]] std::uint16_t udp6_checksum(const std::uint8_t* src16, const std::uint8_t* dst16,
                                          const std::uint8_t* udp, std::uint32_t len) noexcept;

}  // namespace strait::dp
