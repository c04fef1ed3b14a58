// IpPrefix (base/ip_prefix.hpp): the UAPI's allowed_ip text (a wire format: the messages are
// pinned too), the bare-address form the XDP allow-list takes, masking and order. The UAPI's
// own case table is uapi_test's AllowedIpParseAndFormat.

#include "base/ip_prefix.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace strait {
namespace {

TEST(IpPrefix, ParseErrorsNameWhatIsWrong) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      /* 1 */ {"10.0.0.1", "missing /prefix-length"},
      /* 2 */ {"10.0.0/8", "not an IPv4 address: 10.0.0"},
      /* 3 */ {"fd00:::1/64", "not an IPv6 address: fd00:::1"},
      /* 4 */ {"10.0.0.0/33", "prefix length must be 0..32, got \"33\""},
      /* 5 */ {"fd00::/129", "prefix length must be 0..128, got \"129\""},
      /* 6 */ {"10.0.0.0/08", "prefix length must be 0..32, got \"08\""},
      /* 7 */ {"10.0.0.0/", "prefix length must be 0..32, got \"\""},
      /* 8 */
      {"10.0.0.0/99999999999999999999",
       "prefix length must be 0..32, got \"99999999999999999999\""},
  };
  int i = 0;
  for (const Case& c : cases) {
    ++i;
    const auto r = IpPrefix::parse(c.text);
    ASSERT_FALSE(r.ok()) << "case " << i;
    EXPECT_EQ(r.error().message, c.message) << "case " << i;
    EXPECT_EQ(r.error().code, EINVAL) << "case " << i;
  }
}

// What EndpointPrefix::parse of the XDP loader accepted and refused (its test moved here with it).
TEST(IpPrefix, HostOrPrefixTakesABareAddress) {
  const auto p = IpPrefix::parse_host_or_prefix("10.1.2.3/8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->family, IpFamily::v4);
  EXPECT_EQ(p->len, 8);
  EXPECT_EQ(p->addr[0], 10);
  EXPECT_EQ(p->masked().addr[1], 0);  // host bits cleared (the XDP map key is masked)
  const auto q = IpPrefix::parse_host_or_prefix("2001:db8::1");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->family, IpFamily::v6);
  EXPECT_EQ(q->len, 128);
  EXPECT_EQ(IpPrefix::parse_host_or_prefix("203.0.113.7")->len, 32);
  EXPECT_EQ(IpPrefix::parse_host_or_prefix("0.0.0.0/0")->len, 0);
  for (const char* bad : {"", "10.0.0.0/33", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/8x", "host/8",
                          "10.0.0/8", "host"}) {
    EXPECT_FALSE(IpPrefix::parse_host_or_prefix(bad).ok()) << bad;
  }
}

TEST(IpPrefix, MaskedClearsHostBitsOnly) {
  EXPECT_EQ(IpPrefix::v4({10, 1, 2, 3}, 8).masked(), IpPrefix::v4({10, 0, 0, 0}, 8));
  EXPECT_EQ(IpPrefix::v4({192, 168, 1, 77}, 30).masked(), IpPrefix::v4({192, 168, 1, 76}, 30));
  EXPECT_EQ(IpPrefix::v4({1, 2, 3, 4}, 0).masked(), IpPrefix::v4({0, 0, 0, 0}, 0));
  EXPECT_EQ(IpPrefix::v4({1, 2, 3, 4}, 32).masked(), IpPrefix::v4({1, 2, 3, 4}, 32));
  EXPECT_EQ((*IpPrefix::parse("fd00:1::1/127")).masked(), *IpPrefix::parse("fd00:1::/127"));
  EXPECT_EQ((*IpPrefix::parse("fd00::1234/64")).masked().to_string(), "fd00::/64");
}

TEST(IpPrefix, OrderIsFamilyThenAddressThenLength) {
  std::vector<IpPrefix> v = {*IpPrefix::parse("fd00::/8"), *IpPrefix::parse("10.0.0.0/16"),
                             *IpPrefix::parse("10.0.0.0/8"), *IpPrefix::parse("9.0.0.0/8")};
  std::sort(v.begin(), v.end());
  std::vector<std::string> text;
  for (const IpPrefix& p : v) text.push_back(p.to_string());
  EXPECT_EQ(text, (std::vector<std::string>{"9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "fd00::/8"}));
}

}  // namespace
}  // namespace strait
