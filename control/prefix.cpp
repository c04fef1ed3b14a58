#include "control/prefix.hpp"

#include <algorithm>

namespace strait::ctl {

namespace {

// True if `a` and `b` agree on their first `bits` bits.
bool same_leading_bits(const IpPrefix& a, const IpPrefix& b, unsigned bits) {
  for (unsigned i = 0; i < 16 && bits > 0; ++i) {
    const unsigned take = std::min(bits, 8u);
    const auto mask = static_cast<std::uint8_t>(0xff00u >> take);
    if ((a.addr[i] & mask) != (b.addr[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace

Result<IpPrefix> parse_prefix(std::string_view text) {
  auto p = IpPrefix::parse(text);
  if (!p) return p.error();
  const IpPrefix clean = p->masked();
  if (clean != *p) {
    return Error{"host bits set beyond /" + std::to_string(p->len) + " (did you mean " +
                 clean.to_string() + "?)"};
  }
  return p;
}

bool prefix_contains(const IpPrefix& outer, const IpPrefix& inner) {
  if (outer.family != inner.family || outer.len > inner.len) return false;
  return same_leading_bits(outer, inner, outer.len);
}

bool prefixes_overlap(const IpPrefix& a, const IpPrefix& b) {
  return prefix_contains(a, b) || prefix_contains(b, a);
}

}  // namespace strait::ctl
