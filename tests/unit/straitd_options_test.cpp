// straitd's command line and config file: every option, every error message (each one must
// say what is wrong and how to fix it), the EAL arguments derived from the options, and the
// node key options (the key file itself: node_key_test.cpp).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "packet/address_text.hpp"
#include "straitd/eal_plan.hpp"
#include "straitd/options.hpp"

namespace strait::straitd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The options every valid command line needs.
std::vector<std::string> base_args() {
  return {"--wire", "net_ring0", "--bridge", "net_ring1", "--wire-ip", "192.0.2.1"};
}

Result<CommandLine> parse(std::vector<std::string> extra, bool with_base = true) {
  std::vector<std::string> args = with_base ? base_args() : std::vector<std::string>{};
  args.insert(args.end(), extra.begin(), extra.end());
  return parse_command_line(args);
}

std::string error_of(std::vector<std::string> extra, bool with_base = true) {
  auto r = parse(std::move(extra), with_base);
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error().message;
}

class TempFile {
 public:
  TempFile(const std::string& suffix, const std::string& content) {
    path_ = "/tmp/straitd_options_test_" + std::to_string(::getpid()) + "_" +
            std::to_string(counter_++) + suffix;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(StraitdOptions, DefaultsWithTheRequiredOptions) {
  auto r = parse({});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Options& o = r.value().options;
  EXPECT_EQ(r.value().action, Action::run);
  EXPECT_EQ(o.ifname, "strait0");
  EXPECT_EQ(o.effective_file_prefix(), "strait_strait0");
  EXPECT_EQ(o.listen_port, 51820);
  EXPECT_EQ(o.tunnel_mtu, 1420);
  EXPECT_EQ(o.main_lcore, 0U);
  EXPECT_THAT(o.worker_lcores, ElementsAre(1U));
  EXPECT_EQ(o.bridge_mac_mode, BridgeMacMode::pod);
  EXPECT_FALSE(o.busy_poll);
  EXPECT_TRUE(o.idle_wait);
  EXPECT_FALSE(o.no_huge);
  EXPECT_EQ(o.test_rekey_after_seconds, 0U);
  ASSERT_TRUE(o.wire_ipv4.has_value());
  EXPECT_EQ((*o.wire_ipv4)[12], 192);
  EXPECT_EQ((*o.wire_ipv4)[15], 1);
  EXPECT_TRUE(dp::is_ipv4_mapped(*o.wire_ipv4));
  EXPECT_FALSE(o.wire_ipv6.has_value());
}

TEST(StraitdOptions, EveryOptionIsTaken) {
  auto r = parse({"--ifname",
                  "s1",
                  "--lcores",
                  "2-3,5",
                  "--main-lcore",
                  "1",
                  "--file-prefix",
                  "fp",
                  "--socket-mem",
                  "1024,0",
                  "--listen-port",
                  "4000",
                  "--private-key-file",
                  "/k",
                  "--wire-ip",
                  "2001:db8::1",
                  "--wire-gateway-mac",
                  "02:00:00:00:00:0A",
                  "--bridge-mac-mode=fixed",
                  "--bridge-dst-mac",
                  "02-00-00-00-00-0b",
                  "--tunnel-mtu",
                  "1380",
                  "--busy-poll",
                  "--test-rekey-after-seconds",
                  "5",
                  "--log-level",
                  "debug",
                  "--metrics-listen",
                  "127.0.0.1:9478",
                  "--log-format",
                  "json"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Options& o = r.value().options;
  EXPECT_EQ(o.ifname, "s1");
  EXPECT_THAT(o.worker_lcores, ElementsAre(2U, 3U, 5U));
  EXPECT_EQ(o.main_lcore, 1U);
  EXPECT_EQ(o.effective_file_prefix(), "fp");
  EXPECT_EQ(o.socket_mem, "1024,0");
  EXPECT_EQ(o.listen_port, 4000);
  EXPECT_EQ(o.private_key_file, "/k");
  ASSERT_TRUE(o.wire_ipv6.has_value());
  EXPECT_EQ((*o.wire_ipv6)[0], 0x20);
  EXPECT_EQ((*o.wire_ipv6)[15], 1);
  ASSERT_TRUE(o.wire_ipv4.has_value());  // base_args' IPv4, plus the IPv6 here
  ASSERT_TRUE(o.wire_gateway_mac.has_value());
  EXPECT_EQ(dp::format_mac(*o.wire_gateway_mac), "02:00:00:00:00:0a");
  EXPECT_EQ(o.bridge_mac_mode, BridgeMacMode::fixed);
  EXPECT_EQ(dp::format_mac(*o.bridge_dst_mac), "02:00:00:00:00:0b");
  EXPECT_EQ(o.tunnel_mtu, 1380);
  EXPECT_TRUE(o.busy_poll);
  EXPECT_EQ(o.test_rekey_after_seconds, 5U);
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.metrics_listen, "127.0.0.1:9478");
  EXPECT_TRUE(o.log_json);
}

TEST(StraitdOptions, MssClampIsOffUnlessAsked) {
  auto off = parse({});
  ASSERT_TRUE(off.ok()) << off.error().message;
  EXPECT_FALSE(off.value().options.mss_clamp);
  auto on = parse({"--mss-clamp"});
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(on.value().options.mss_clamp);
  auto bad = parse({"--mss-clamp=1"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("--mss-clamp takes no value"));
  Options o;
  ASSERT_TRUE(apply_config_text(o, "mss-clamp = true\n", false, "s.conf").ok());
  EXPECT_TRUE(o.mss_clamp);
}

TEST(StraitdOptions, IdleWaitsUnlessBackoffIsAsked) {
  auto backoff = parse({"--idle", "backoff"});
  ASSERT_TRUE(backoff.ok()) << backoff.error().message;
  EXPECT_FALSE(backoff.value().options.idle_wait);
  auto wait = parse({"--idle", "wait"});
  ASSERT_TRUE(wait.ok()) << wait.error().message;
  EXPECT_TRUE(wait.value().options.idle_wait);
}

TEST(StraitdOptions, MemoryShortAndLongForms) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"-m", "512"}, {"-m512"}, {"--memory", "512"}, {"--memory=512"}}) {
    auto r = parse(args);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().options.memory_mb, 512U) << args[0];
  }
}

TEST(StraitdOptions, HelpAndVersionWinOverErrors) {
  auto h = parse({"--bogus", "--help"}, false);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.value().action, Action::help);
  auto h2 = parse({"-h"}, false);
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(h2.value().action, Action::help);
  auto v = parse({"--version"}, false);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v.value().action, Action::version);
  EXPECT_THAT(version_text(), HasSubstr("straitd "));
  EXPECT_THAT(version_text(), HasSubstr(" (commit "));
}

TEST(StraitdOptions, UsageListsEveryOption) {
  const std::string u = usage_text();
  for (const char* name : {"--config",
                           "--ifname",
                           "--wire",
                           "--bridge",
                           "--lcores",
                           "--main-lcore",
                           "--file-prefix",
                           "--socket-mem",
                           "-m, --memory",
                           "--no-huge",
                           "--listen-port",
                           "--private-key-file",
                           "--wire-ip",
                           "--wire-gateway-mac",
                           "--bridge-mac-mode",
                           "--bridge-dst-mac",
                           "--tunnel-mtu",
                           "--busy-poll",
                           "--test-rekey-after-seconds",
                           "--log-level",
                           "--help",
                           "--version"}) {
    EXPECT_THAT(u, HasSubstr(name));
  }
}

// Numbered cases: the command line, and a piece of the message that must be in the error.
struct ErrorCase {
  int id;
  std::vector<std::string> args;
  bool with_base;
  const char* expected;
};

TEST(StraitdOptions, ErrorMessages) {
  const std::vector<ErrorCase> cases = {
      {1, {"--wire", "x", "--wire-ip", "192.0.2.1"}, false, "missing --bridge"},
      {2, {"--bridge", "x", "--wire-ip", "192.0.2.1"}, false, "missing --wire: the wire port"},
      {3, {"--wire", "a", "--bridge", "b"}, false, "missing --wire-ip"},
      {4,
       {"--wire", "a", "--bridge", "a", "--wire-ip", "192.0.2.1"},
       false,
       "name the same device"},
      {5, {"--bogus"}, true, "unknown option '--bogus' (see straitd --help)"},
      {6, {"stray"}, true, "unexpected argument 'stray'"},
      {7, {"--listen-port"}, true, "--listen-port needs a value: --listen-port PORT"},
      {8, {"--listen-port", "70000"}, true, "not a UDP port (1..65535)"},
      {9, {"--listen-port", "0"}, true, "not a UDP port"},
      {10, {"--lcores", "3-1"}, true, "--lcores '3-1' is not a list of lcore ids"},
      {101, {"--log-format", "xml"}, true, "--log-format 'xml' must be text or json"},
      {102, {"--metrics-listen", "9478"}, true, "--metrics-listen '9478' must be HOST:PORT"},
      {11, {"--lcores", "1,x"}, true, "is not a list of lcore ids (write 1, 1-3 or 1,3,5-6"},
      {12, {"--lcores", "0-1"}, true, "lcore 0 is both the main lcore"},
      {13, {"--main-lcore", "500"}, true, "is not an lcore id"},
      {14, {"--wire-ip", "10.0.0.1/24"}, true, "is not an IPv4 or IPv6 address"},
      {15, {"--wire-ip", "10.0.0.1", "--wire-ip", "10.0.0.2"}, true, "given twice for IPv4"},
      {16, {"--wire-gateway-mac", "02:00:00:00:00"}, true, "is not a MAC address"},
      {17, {"--bridge-mac-mode", "magic"}, true, "must be pod or fixed"},
      {18, {"--bridge-mac-mode", "fixed"}, true, "--bridge-mac-mode fixed needs --bridge-dst-mac"},
      {19,
       {"--bridge-dst-mac", "02:00:00:00:0g:01"},
       true,
       "--bridge-dst-mac '02:00:00:00:0g:01' is not a MAC address"},
      {20, {"--tunnel-mtu", "100"}, true, "must be 576..9000"},
      {21, {"--log-level", "loud"}, true, "must be one of trace, debug, info"},
      {22, {"--test-rekey-after-seconds", "0"}, true, "must be 1..120"},
      {23, {"--busy-poll=yes"}, true, "--busy-poll takes no value"},
      {24, {"--ifname", "a/b"}, true, "not a valid interface name"},
      {25, {"--ifname", "sixteen-chars-xx"}, true, "1 to 15 characters"},
      {26, {"-m", "0"}, true, "is not a number of megabytes"},
      {27, {"-m", "256", "--socket-mem", "256"}, true, "either -m/--memory or --socket-mem"},
      {28, {"--socket-mem", "1G"}, true, "megabytes per NUMA socket"},
      {29,
       {"--wire", "0000:3b:00.1", "--bridge", "b", "--wire-ip", "192.0.2.1"},
       false,
       "a PCI wire port (0000:3b:00.1) needs --wire-gateway-mac"},
      {30,
       {"--config", "/nonexistent/straitd.conf"},
       true,
       "cannot read config file '/nonexistent/straitd.conf': No such file or directory"},
      {31, {"--file-prefix", ""}, true, "non-empty name"},
      {32, {"--config"}, true, "--config needs a value"},
      {33, {"--idle", "spin"}, true, "--idle 'spin' must be wait or backoff"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(error_of(c.args, c.with_base), HasSubstr(c.expected)) << "case " << c.id;
  }
}

TEST(StraitdOptions, CommandLineWireIpReplacesTheConfigFiles) {
  TempFile f(".conf", "wire-ip = 10.0.0.1\n");
  auto r =
      parse({"--config", f.path(), "--wire", "a", "--bridge", "b", "--wire-ip", "10.0.0.2"}, false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r.value().options.wire_ipv4)[15], 2);
}

TEST(StraitdOptions, KeyValueConfigFile) {
  TempFile f(".conf",
             "# straitd config\n"
             "wire = net_af_packet0,iface=veth1\n"
             "bridge=net_tap0,iface=br0   # trailing comment\n"
             "wire_ip = 192.0.2.7\n"
             "listen-port = 5000\n"
             "lcores = 1\n"
             "busy-poll = true\n"
             "\n"
             "no_huge = yes\n");
  // The command line overrides the file, wherever --config appears.
  auto r = parse({"--listen-port", "6000", "--config=" + f.path()}, false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Options& o = r.value().options;
  EXPECT_EQ(o.wire, "net_af_packet0,iface=veth1");
  EXPECT_EQ(o.bridge, "net_tap0,iface=br0");
  EXPECT_EQ((*o.wire_ipv4)[15], 7);
  EXPECT_EQ(o.listen_port, 6000);
  EXPECT_TRUE(o.busy_poll);
  EXPECT_TRUE(o.no_huge);
  EXPECT_EQ(o.config_file, f.path());
}

TEST(StraitdOptions, YamlConfigFile) {
  TempFile f(".yaml",
             "wire: net_af_packet0,iface=veth1\n"
             "bridge: net_tap0,iface=br0\n"
             "wire-ip: [192.0.2.7, 2001:db8::7]\n"
             "tunnel_mtu: 1400\n"
             "bridge-mac-mode: fixed\n"
             "bridge-dst-mac: 02:00:00:00:00:09\n");
  auto r = parse({"--config", f.path()}, false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Options& o = r.value().options;
  EXPECT_EQ(o.wire, "net_af_packet0,iface=veth1");
  EXPECT_TRUE(o.wire_ipv4.has_value());
  EXPECT_TRUE(o.wire_ipv6.has_value());
  EXPECT_EQ(o.tunnel_mtu, 1400);
  EXPECT_EQ(o.bridge_mac_mode, BridgeMacMode::fixed);
}

TEST(StraitdOptions, ConfigFileErrorsNameFileAndLine) {
  Options o;
  auto r1 = apply_config_text(o, "wire = a\nlisten-port: 5\n", false, "s.conf");
  ASSERT_FALSE(r1.ok());
  EXPECT_THAT(r1.error().message, HasSubstr("s.conf line 2: expected key=value"));
  auto r2 = apply_config_text(o, "colour = blue\n", false, "s.conf");
  ASSERT_FALSE(r2.ok());
  EXPECT_THAT(r2.error().message, HasSubstr("s.conf line 1: unknown option 'colour'"));
  auto r3 = apply_config_text(o, "tunnel-mtu = 10\n", false, "s.conf");
  ASSERT_FALSE(r3.ok());
  EXPECT_THAT(r3.error().message, HasSubstr("s.conf line 1: --tunnel-mtu '10' must be"));
  auto r4 = apply_config_text(o, "wire: [a, b\n", true, "s.yaml");
  ASSERT_FALSE(r4.ok());
  EXPECT_THAT(r4.error().message, HasSubstr("s.yaml: not valid YAML"));
  auto r5 = apply_config_text(o, "- a\n- b\n", true, "s.yaml");
  ASSERT_FALSE(r5.ok());
  EXPECT_THAT(r5.error().message, HasSubstr("expected a YAML mapping"));
  auto r6 = apply_config_text(o, "lcores: {a: 1}\n", true, "s.yaml");
  ASSERT_FALSE(r6.ok());
  EXPECT_THAT(r6.error().message, HasSubstr("s.yaml key 'lcores': expected a single value"));
  auto r7 = apply_config_text(o, "config = other.conf\n", false, "s.conf");
  ASSERT_FALSE(r7.ok());
  EXPECT_THAT(r7.error().message, HasSubstr("unknown option 'config'"));
}

TEST(StraitdOptions, LcoreLists) {
  auto r = parse_lcore_list("5,1-3,2");
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r.value(), ElementsAre(1U, 2U, 3U, 5U));
  EXPECT_FALSE(parse_lcore_list("").ok());
  EXPECT_FALSE(parse_lcore_list("1,").ok());
  EXPECT_FALSE(parse_lcore_list("-1").ok());
  EXPECT_FALSE(parse_lcore_list("128").ok());
}

TEST(StraitdOptions, PciAddresses) {
  EXPECT_TRUE(is_pci_address("0000:3b:00.1"));
  EXPECT_TRUE(is_pci_address("3b:00.1"));
  EXPECT_TRUE(is_pci_address("0000:3b:00.1,rxq_cqe_comp_en=0"));
  EXPECT_FALSE(is_pci_address("net_tap0,iface=x"));
  EXPECT_FALSE(is_pci_address("net_ring0"));
  EXPECT_FALSE(is_pci_address("0000:3b:00.8"));
  EXPECT_FALSE(is_pci_address("00:3b:00.1"));
}

TEST(StraitdOptions, EalArgumentsForVdevs) {
  auto r = parse({"--lcores", "2-3", "--no-huge", "--log-level", "warn"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(
      eal_arguments(r.value().options),
      ElementsAre("straitd", "-l", "0,2,3", "--main-lcore", "0", "--file-prefix", "strait_strait0",
                  "--no-huge", "-m", "256", "--no-pci", "--log-level", "*:warning"));
}

TEST(StraitdOptions, EalArgumentsForPci) {
  auto r = parse({"--wire", "0000:3b:00.1", "--bridge", "net_tap0,iface=b", "--wire-ip",
                  "192.0.2.1", "--wire-gateway-mac", "02:00:00:00:00:01", "--socket-mem", "1024",
                  "--main-lcore", "4", "--lcores", "1"},
                 false);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_THAT(eal_arguments(r.value().options),
              ElementsAre("straitd", "-l", "4,1", "--main-lcore", "4", "--file-prefix",
                          "strait_strait0", "--huge-unlink", "--socket-mem", "1024", "-a",
                          "0000:3b:00.1", "--log-level", "*:notice"));
}

TEST(StraitdOptions, QueuesPerPort) {
  EXPECT_EQ(port_queues(1, "net_ring0").n_rx, 1);
  EXPECT_EQ(port_queues(1, "net_ring0").n_tx, 2);
  EXPECT_EQ(port_queues(1, "net_af_packet0,iface=x").n_tx, 1);
  EXPECT_EQ(port_queues(3, "net_af_xdp0,iface=x").n_tx, 3);
  EXPECT_TRUE(port_queues(1, "0000:3b:00.1").slow_path_queue);
  EXPECT_EQ(port_queues(4, "0000:3b:00.1").n_rx, 4);
  EXPECT_EQ(port_queues(4, "0000:3b:00.1").n_tx, 5);
  // net_tap wants as many TX as RX queues: the slow path relays through worker 0.
  EXPECT_EQ(port_queues(2, "net_tap0,iface=t").n_rx, 2);
  EXPECT_EQ(port_queues(2, "net_tap0,iface=t").n_tx, 2);
  EXPECT_FALSE(port_queues(2, "net_tap0,iface=t").slow_path_queue);
  EXPECT_TRUE(needs_equal_queue_counts("net_tun1"));
  EXPECT_FALSE(needs_equal_queue_counts("net_ring0"));
  // net_af_xdp without busy polling: busy_budget=0 unless named (the PMD's default makes every
  // empty poll a system call); nothing else is touched.
  EXPECT_EQ(port_devargs("net_af_xdp0,iface=x", false), "net_af_xdp0,iface=x,busy_budget=0");
  EXPECT_EQ(port_devargs("net_af_xdp0,iface=x", true), "net_af_xdp0,iface=x");
  EXPECT_EQ(port_devargs("net_af_xdp0,busy_budget=32,iface=x", false),
            "net_af_xdp0,busy_budget=32,iface=x");
  EXPECT_EQ(port_devargs("net_af_packet0,iface=x", false), "net_af_packet0,iface=x");
  EXPECT_EQ(port_devargs("0000:3b:00.1", false), "0000:3b:00.1");
  EXPECT_THAT(explain_port_error("port wire (net_ring0, net_ring) supports 1 TX queues, straitd "
                                 "needs 2 (one per worker lcore)",
                                 1),
              HasSubstr("straitd needs 1 RX and 2 TX queues per port (one each per worker "
                        "lcore, plus a TX queue for the slow path)"));
  EXPECT_EQ(explain_port_error("port wire: cannot open device", 1),
            "port wire: cannot open device");
}

TEST(StraitdOptions, NodeKeyOptions) {
  auto r = parse({"--private-key-file", "/var/lib/strait/private.key", "--create-private-key",
                  "--public-key-file", "/var/lib/strait/public.key"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value().options.create_private_key);
  EXPECT_EQ(r.value().options.public_key_file, "/var/lib/strait/public.key");
  EXPECT_THAT(error_of({"--create-private-key"}),
              HasSubstr("--create-private-key needs --private-key-file FILE"));
  EXPECT_THAT(error_of({"--public-key-file", "/tmp/p"}),
              HasSubstr("--public-key-file needs --private-key-file FILE"));
}

TEST(StraitdOptions, EalLogLevels) {
  EXPECT_EQ(eal_log_level("info"), "*:notice");
  EXPECT_EQ(eal_log_level("debug"), "*:info");
  EXPECT_EQ(eal_log_level("off"), "*:emergency");
}

}  // namespace
}  // namespace strait::straitd
