#pragma once
// The control library of the XDP program (strait_xdp.bpf.c): it owns the program's maps.
//
// Three ways to get hold of the program, one object afterwards:
//   load()        open and load the object file (not attached yet): straitd without the PMD's
//                 xdp_prog= devarg, the tests (bpf_prog_test_run_opts on program_fd()).
//   adopt()       the program some other loader attached to an interface (DPDK's net_af_xdp
//                 PMD with xdp_prog=<object>): find its maps through the kernel, configure, pin.
//   open_pinned() the maps pinned under <pin_root>/<ifname>/ by load()+attach() or adopt():
//                 strait-agent reads counters and edits the allow-list through these.
//
// All of it is control path: it may allocate, log (spdlog) and throw XdpError. Thread
// ownership: one XdpProgram is used by one thread (straitd's slow path, or the agent); the
// kernel makes each single map update atomic with respect to the XDP program.

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "base/drop_reason.hpp"
#include "base/ip_prefix.hpp"
#include "base/keys.hpp"
#include "strait_xdp.h"

struct bpf_object;

namespace strait::ebpf {

class XdpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::string_view kDefaultPinRoot = "/sys/fs/bpf/strait";
inline constexpr std::size_t kVerdictCount = STRAIT_XDP_VERDICT_COUNT;

// The program's config record (strait_xdp.h, struct strait_xdp_config).
struct XdpConfig {
  std::uint16_t tunnel_port = 0;  // host order; 0 = unconfigured, everything passes
  bool allowlist = false;         // drop tunnel packets from sources outside the allow-list
  std::uint64_t test_now_ns = 0;  // tests only: the handshake cap's clock; 0 = the kernel's
  // Coarse cap on handshake messages from all sources together (0 = none) and its burst. Never
  // per source: a source address is unproven before straitd checks mac2 (README.md).
  std::uint32_t handshakes_per_second = 0;
  std::uint32_t handshake_burst = 0;
};

enum class AttachMode { native, generic };
[[nodiscard]] const char* to_string(AttachMode m);

// Per-reason drops and the verdict counters, each summed over the CPUs.
struct XdpCounters {
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::array<std::uint64_t, kVerdictCount> verdicts{};
  [[nodiscard]] std::uint64_t drop(DropReason r) const {
    return drops[static_cast<std::size_t>(r)];
  }
  [[nodiscard]] std::uint64_t verdict(strait_xdp_verdict v) const { return verdicts[v]; }
};

class XdpProgram {
 public:
  // Opens and loads the object (program verified, maps created), config all zero.
  [[nodiscard]] static XdpProgram load(const std::string& object_path);
  // The strait_xdp program attached to ifname by another loader; its maps get pinned.
  [[nodiscard]] static XdpProgram adopt(const std::string& ifname,
                                        std::string_view pin_root = kDefaultPinRoot);
  // The maps pinned for ifname (no program fd).
  [[nodiscard]] static XdpProgram open_pinned(const std::string& ifname,
                                              std::string_view pin_root = kDefaultPinRoot);
  // Left by a crashed run: detaches a program named strait_xdp from ifname (any mode) and
  // removes <pin_root>/<ifname>/. Returns whether there was anything to remove. Run it before
  // attach() or before starting the net_af_xdp port (its xdp_prog= attach refuses to replace
  // a program).
  [[nodiscard]] static bool remove_stale(const std::string& ifname,
                                         std::string_view pin_root = kDefaultPinRoot);

  XdpProgram(XdpProgram&& other) noexcept;
  XdpProgram& operator=(XdpProgram&& other) noexcept;
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;
  ~XdpProgram();  // closes fds; leaves an attached program attached (detach() removes it)

  void configure(const XdpConfig& config);
  [[nodiscard]] XdpConfig config() const;

  // Attaches to ifname in native (driver) mode, falling back to generic (SKB) mode when the
  // driver has no XDP support and fallback is allowed; logs which. Then pins the maps under
  // <pin_root>/<ifname>/.
  AttachMode attach(const std::string& ifname, bool allow_generic_fallback = true,
                    std::string_view pin_root = kDefaultPinRoot);
  // Detaches (if this object attached or adopted it) and removes the pins. Idempotent.
  void detach();

  // live_indices: the receiver indices straitd has handed out (WireGuard paper section 5.4).
  // cipher: the transport cipher the keypair uses (the data type it must arrive with);
  // nullopt accepts either.
  void add_live_index(std::uint32_t index, std::optional<Cipher> cipher = std::nullopt);
  void remove_live_index(std::uint32_t index);  // absent is not an error

  // Endpoints the program accepts from. Host bits are ignored: "192.0.2.99/24" is 192.0.2.0/24.
  void allow_prefix(const IpPrefix& prefix);
  void disallow_prefix(const IpPrefix& prefix);  // absent is not an error

  [[nodiscard]] XdpCounters read_counters() const;
  void reset_counters();

  // The program fd, for bpf_prog_test_run_opts (-1 after open_pinned()).
  [[nodiscard]] int program_fd() const { return prog_fd_; }
  // A map fd by name (strait_xdp.h STRAIT_XDP_MAP_*), e.g. xsks_map for an AF_XDP socket.
  [[nodiscard]] int map_fd(std::string_view name) const;
  [[nodiscard]] const std::string& pin_dir() const { return pin_dir_; }

 private:
  enum MapSlot { kConfig, kLiveIndices, kHsGlobal, kAllowed, kXsks, kDrops, kVerdicts, kMapCount };
  static constexpr std::array<const char*, kMapCount> kMapNames = {
      STRAIT_XDP_MAP_CONFIG,  STRAIT_XDP_MAP_LIVE_INDICES, STRAIT_XDP_MAP_HS_GLOBAL,
      STRAIT_XDP_MAP_ALLOWED, STRAIT_XDP_MAP_XSKS,         STRAIT_XDP_MAP_DROPS,
      STRAIT_XDP_MAP_VERDICTS};

  XdpProgram() { map_fds_.fill(-1); }
  void pin_maps(std::string_view pin_root, const std::string& ifname);
  void unpin_maps();
  void close_all();
  void sum_percpu(int fd, std::uint32_t entries, std::uint64_t* out) const;

  bpf_object* object_ = nullptr;
  int prog_fd_ = -1;
  std::array<int, kMapCount> map_fds_{};
  int ifindex_ = 0;  // where this object attached or adopted the program; 0 = nowhere
  std::uint32_t attach_flags_ = 0;  // XDP_FLAGS_* used to attach (for detach)
  std::string pin_dir_;             // empty when nothing is pinned
};

}  // namespace strait::ebpf
