#pragma once
// TAI64N timestamps for handshake initiations (WireGuard paper section 5.1 and 5.4.2:
// the responder accepts an initiation only if its timestamp is greater than the last one it
// accepted from that peer, which defeats replay of captured initiations).
//
// The core has no clock: the caller passes the wall-clock time (seconds and nanoseconds
// since the Unix epoch). Unlike Time, this is wall clock, because the peer compares our
// timestamps across our restarts.

#include <array>
#include <cstdint>

namespace strait::wg {

using Tai64n = std::array<std::uint8_t, 12>;  // 8-byte big-endian TAI64 label, 4-byte BE ns

// The TAI64 label of the Unix epoch plus the 10 s TAI-UTC offset of 1970, as the Linux module
// and wireguard-go write it (https://cr.yp.to/libtai/tai64.html).
inline constexpr std::uint64_t kTai64Base = 0x400000000000000aULL;

// Nanoseconds are rounded down to a multiple of 2^24 ns (about 16.8 ms), so the timestamp does
// not leak a precise clock; 2^24 is the largest power of two below 1 s / 50, the most
// initiations per second a responder accepts anyway (Linux noise.c, wireguard-go tai64n.go).
inline constexpr std::uint32_t kTai64nWhitenerMask = ~((1U << 24) - 1);

// nanoseconds must be < 1e9 (larger values are clamped to 999999999).
[[nodiscard]] Tai64n tai64n_from_unix(std::int64_t unix_seconds, std::uint32_t nanoseconds);

// a > b as timestamps: big-endian bytes compare like the numbers they encode.
[[nodiscard]] bool tai64n_after(const Tai64n& a, const Tai64n& b);

}  // namespace strait::wg
