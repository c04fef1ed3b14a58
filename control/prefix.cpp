#include "control/prefix.hpp"

#include <algorithm>

namespace strait::ctl {

namespace {

unsigned family_bits(const Prefix& p) { return p.family == 4 ? 32u : 128u; }

// True if `a` and `b` agree on their first `bits` bits.
bool same_leading_bits(const Prefix& a, const Prefix& b, unsigned bits) {
  for (unsigned i = 0; i < 16 && bits > 0; ++i) {
    const unsigned take = std::min(bits, 8u);
    const auto mask = static_cast<std::uint8_t>(0xff00u >> take);
    if ((a.addr[i] & mask) != (b.addr[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace

Result<Prefix> parse_prefix(std::string_view text) {
  auto p = Prefix::parse(text);
  if (!p) return p.error();
  Prefix masked = *p;
  const unsigned bits = family_bits(masked);
  for (unsigned bit = masked.cidr; bit < bits; ++bit) {
    if ((masked.addr[bit / 8] >> (7 - bit % 8)) & 1) {
      Prefix clean = masked;
      for (unsigned b = masked.cidr; b < bits; ++b) {
        clean.addr[b / 8] &= static_cast<std::uint8_t>(~(1u << (7 - b % 8)));
      }
      return Error{"host bits set beyond /" + std::to_string(masked.cidr) + " (did you mean " +
                     clean.to_string() + "?)"};
    }
  }
  return masked;
}

bool prefix_contains(const Prefix& outer, const Prefix& inner) {
  if (outer.family != inner.family || outer.cidr > inner.cidr) return false;
  return same_leading_bits(outer, inner, outer.cidr);
}

bool prefixes_overlap(const Prefix& a, const Prefix& b) {
  return prefix_contains(a, b) || prefix_contains(b, a);
}

bool prefix_less(const Prefix& a, const Prefix& b) {
  if (a.family != b.family) return a.family < b.family;
  if (a.addr != b.addr) return a.addr < b.addr;
  return a.cidr < b.cidr;
}

}  // namespace strait::ctl
