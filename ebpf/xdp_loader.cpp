#include "xdp_loader.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

namespace strait::ebpf {

// The program's counter map is indexed by the same list as straitd's drop reasons.
static_assert(STRAIT_XDP_DROP_COUNT == kDropReasonCount);
#define STRAIT_DROP(name, metric, help) \
  static_assert(STRAIT_XDP_DROP_##name == static_cast<int>(DropReason::name));
#include "base/drop_reasons.def"
#undef STRAIT_DROP

namespace {

std::string errno_text(int err) {
  if (err < 0) err = -err;
  return std::strerror(err);
}

[[noreturn]] void fail(const std::string& what, int err) {
  throw XdpError(what + ": " + errno_text(err));
}

// libbpf's messages (the verifier log when a load fails) go to spdlog instead of stderr.
int libbpf_to_spdlog(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  std::string_view text(
      buf, n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (level == LIBBPF_WARN)
    spdlog::warn("{}", text);  // libbpf prefixes its own "libbpf: "
  else
    spdlog::info("{}", text);
  return n;
}

void route_libbpf_logs() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(libbpf_to_spdlog); });
}

int ifindex_of(const std::string& ifname) {
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) fail("interface " + ifname, errno);
  return static_cast<int>(idx);
}

std::string pin_dir_for(std::string_view pin_root, const std::string& ifname) {
  return std::string(pin_root) + "/" + ifname;
}

bpf_prog_info prog_info(int fd, std::vector<std::uint32_t>* map_ids = nullptr) {
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) fail("bpf_obj_get_info_by_fd(prog)", errno);
  if (map_ids != nullptr) {
    const std::uint32_t n = info.nr_map_ids;
    map_ids->assign(n, 0);
    info = bpf_prog_info{};
    info.nr_map_ids = n;
    info.map_ids = reinterpret_cast<std::uint64_t>(map_ids->data());
    len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
      fail("bpf_obj_get_info_by_fd(prog maps)", errno);
    map_ids->resize(std::min(n, info.nr_map_ids));
  }
  return info;
}

// The XDP programs attached to ifindex, one per mode, with the flag that detaches each.
struct Attached {
  std::uint32_t prog_id;
  std::uint32_t mode_flag;
};
std::vector<Attached> attached_programs(int ifindex) {
  bpf_xdp_query_opts q{};
  q.sz = sizeof q;
  if (bpf_xdp_query(ifindex, 0, &q) != 0) fail("bpf_xdp_query", errno);
  std::vector<Attached> out;
  if (q.drv_prog_id) out.push_back({q.drv_prog_id, XDP_FLAGS_DRV_MODE});
  if (q.skb_prog_id) out.push_back({q.skb_prog_id, XDP_FLAGS_SKB_MODE});
  if (q.hw_prog_id) out.push_back({q.hw_prog_id, XDP_FLAGS_HW_MODE});
  return out;
}

bool is_strait_program(int prog_fd) {
  return std::strcmp(prog_info(prog_fd).name, STRAIT_XDP_PROG_NAME) == 0;
}

// Host bits cleared, so that "10.1.2.3/8" and "10.0.0.0/8" are one entry.
strait_xdp_lpm_key lpm_key(const IpPrefix& prefix) {
  const IpPrefix p = prefix.masked();
  strait_xdp_lpm_key key{};
  key.prefixlen = 8u + p.len;  // the family byte first (strait_xdp.h)
  key.family = static_cast<std::uint8_t>(p.family);
  std::memcpy(key.addr, p.addr.data(), p.max_len() / 8);
  return key;
}

}  // namespace

const char* to_string(AttachMode m) { return m == AttachMode::native ? "native" : "generic"; }

// ---- construction ----

XdpProgram XdpProgram::load(const std::string& object_path) {
  route_libbpf_logs();
  XdpProgram p;
  p.object_ = bpf_object__open_file(object_path.c_str(), nullptr);
  if (p.object_ == nullptr) fail("opening " + object_path, errno);
  if (const int err = bpf_object__load(p.object_); err != 0)
    fail("loading " + object_path + " (verifier log above)", err);
  bpf_program* prog = bpf_object__find_program_by_name(p.object_, STRAIT_XDP_PROG_NAME);
  if (prog == nullptr) throw XdpError(object_path + " has no program " STRAIT_XDP_PROG_NAME);
  p.prog_fd_ = bpf_program__fd(prog);
  for (std::size_t i = 0; i < kMapCount; ++i) {
    bpf_map* m = bpf_object__find_map_by_name(p.object_, kMapNames[i]);
    if (m == nullptr) throw XdpError(object_path + " has no map " + kMapNames[i]);
    p.map_fds_[i] = bpf_map__fd(m);
  }
  return p;
}

XdpProgram XdpProgram::adopt(const std::string& ifname, std::string_view pin_root) {
  const int ifindex = ifindex_of(ifname);
  XdpProgram p;
  for (const Attached& a : attached_programs(ifindex)) {
    const int fd = bpf_prog_get_fd_by_id(a.prog_id);
    if (fd < 0) fail("bpf_prog_get_fd_by_id", errno);
    std::vector<std::uint32_t> map_ids;
    const bpf_prog_info info = prog_info(fd, &map_ids);
    if (std::strcmp(info.name, STRAIT_XDP_PROG_NAME) != 0) {
      close(fd);
      continue;
    }
    p.prog_fd_ = fd;
    for (const std::uint32_t id : map_ids) {
      const int mfd = bpf_map_get_fd_by_id(id);
      if (mfd < 0) fail("bpf_map_get_fd_by_id", errno);
      bpf_map_info minfo{};
      std::uint32_t len = sizeof minfo;
      if (bpf_obj_get_info_by_fd(mfd, &minfo, &len) != 0)
        fail("bpf_obj_get_info_by_fd(map)", errno);
      bool kept = false;
      for (std::size_t i = 0; i < kMapCount; ++i) {
        if (p.map_fds_[i] < 0 && std::strcmp(minfo.name, kMapNames[i]) == 0) {
          p.map_fds_[i] = mfd;
          kept = true;
        }
      }
      if (!kept) close(mfd);  // .rodata and the like
    }
    for (std::size_t i = 0; i < kMapCount; ++i)
      if (p.map_fds_[i] < 0) throw XdpError("program on " + ifname + " has no map " + kMapNames[i]);
    // Pins are for the agent and bpftool; the program works without them (no bpffs in the
    // mount namespace of `ip netns exec`), so straitd keeps its fds and goes on.
    try {
      p.pin_maps(pin_root, ifname);
    } catch (const XdpError& e) {
      p.unpin_maps();
      spdlog::warn("xdp: maps of {} not pinned: {}", ifname, e.what());
    }
    spdlog::info("xdp: adopted {} (id {}) on {} in {} mode, maps pinned under {}",
                 STRAIT_XDP_PROG_NAME, a.prog_id, ifname,
                 a.mode_flag == XDP_FLAGS_SKB_MODE ? "generic" : "native", p.pin_dir_);
    return p;
  }
  throw XdpError("no " STRAIT_XDP_PROG_NAME " program attached to " + ifname);
}

XdpProgram XdpProgram::open_pinned(const std::string& ifname, std::string_view pin_root) {
  XdpProgram p;
  const std::string dir = pin_dir_for(pin_root, ifname);
  for (std::size_t i = 0; i < kMapCount; ++i) {
    const std::string path = dir + "/" + kMapNames[i];
    p.map_fds_[i] = bpf_obj_get(path.c_str());
    if (p.map_fds_[i] < 0) fail("opening pinned map " + path, errno);
  }
  return p;
}

bool XdpProgram::remove_stale(const std::string& ifname, std::string_view pin_root) {
  bool removed = false;
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx != 0) {
    const int ifindex = static_cast<int>(idx);
    for (const Attached& a : attached_programs(ifindex)) {
      const int fd = bpf_prog_get_fd_by_id(a.prog_id);
      if (fd < 0) continue;  // gone meanwhile
      const bool ours = is_strait_program(fd);
      close(fd);
      if (!ours) continue;  // someone else's program: not ours to remove
      if (const int err = bpf_xdp_detach(ifindex, a.mode_flag, nullptr); err != 0)
        fail("detaching stale " STRAIT_XDP_PROG_NAME " from " + ifname, err);
      spdlog::warn("xdp: removed a stale {} (id {}) from {}", STRAIT_XDP_PROG_NAME, a.prog_id,
                   ifname);
      removed = true;
    }
  }
  const std::string dir = pin_dir_for(pin_root, ifname);
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    std::filesystem::remove_all(dir, ec);
    if (ec) throw XdpError("removing stale pins " + dir + ": " + ec.message());
    spdlog::warn("xdp: removed stale pins {}", dir);
    removed = true;
  }
  return removed;
}

XdpProgram::XdpProgram(XdpProgram&& other) noexcept
    : object_(other.object_),
      prog_fd_(other.prog_fd_),
      map_fds_(other.map_fds_),
      ifindex_(other.ifindex_),
      attach_flags_(other.attach_flags_),
      pin_dir_(std::move(other.pin_dir_)) {
  other.object_ = nullptr;
  other.prog_fd_ = -1;
  other.map_fds_.fill(-1);
  other.ifindex_ = 0;
  other.pin_dir_.clear();
}

XdpProgram& XdpProgram::operator=(XdpProgram&& other) noexcept {
  if (this != &other) {
    close_all();
    object_ = other.object_;
    prog_fd_ = other.prog_fd_;
    map_fds_ = other.map_fds_;
    ifindex_ = other.ifindex_;
    attach_flags_ = other.attach_flags_;
    pin_dir_ = std::move(other.pin_dir_);
    other.object_ = nullptr;
    other.prog_fd_ = -1;
    other.map_fds_.fill(-1);
    other.ifindex_ = 0;
    other.pin_dir_.clear();
  }
  return *this;
}

XdpProgram::~XdpProgram() { close_all(); }

void XdpProgram::close_all() {
  if (object_ != nullptr) {
    bpf_object__close(object_);  // closes the fds it owns
  } else {
    if (prog_fd_ >= 0) close(prog_fd_);
    for (int fd : map_fds_)
      if (fd >= 0) close(fd);
  }
  object_ = nullptr;
  prog_fd_ = -1;
  map_fds_.fill(-1);
}

// ---- config, attach, pins ----

void XdpProgram::configure(const XdpConfig& c) {
  strait_xdp_config raw{};
  raw.tunnel_port = c.tunnel_port;
  raw.flags = c.allowlist ? STRAIT_XDP_F_ALLOWLIST : 0;
  raw.test_now_ns = c.test_now_ns;
  raw.hs_per_second = c.handshakes_per_second;
  raw.hs_burst = c.handshake_burst;
  const std::uint32_t key = 0;
  if (const int err = bpf_map_update_elem(map_fds_[kConfig], &key, &raw, BPF_ANY); err != 0)
    fail("writing the XDP config", err);
}

XdpConfig XdpProgram::config() const {
  strait_xdp_config raw{};
  const std::uint32_t key = 0;
  if (const int err = bpf_map_lookup_elem(map_fds_[kConfig], &key, &raw); err != 0)
    fail("reading the XDP config", err);
  return XdpConfig{raw.tunnel_port, (raw.flags & STRAIT_XDP_F_ALLOWLIST) != 0, raw.test_now_ns,
                   raw.hs_per_second, raw.hs_burst};
}

AttachMode XdpProgram::attach(const std::string& ifname, bool allow_generic_fallback,
                              std::string_view pin_root) {
  if (prog_fd_ < 0) throw XdpError("attach: no program (opened from pins)");
  const int ifindex = ifindex_of(ifname);
  // UPDATE_IF_NOEXIST: never replace a program silently; remove_stale() clears our own.
  int err =
      bpf_xdp_attach(ifindex, prog_fd_, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  AttachMode mode = AttachMode::native;
  if (err != 0) {
    if (err == -EEXIST || err == -EBUSY || !allow_generic_fallback)
      fail("attaching " STRAIT_XDP_PROG_NAME " to " + ifname + " in native mode", err);
    spdlog::warn("xdp: native mode on {} refused ({}), falling back to generic (SKB) mode", ifname,
                 errno_text(err));
    err = bpf_xdp_attach(ifindex, prog_fd_, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST,
                         nullptr);
    if (err != 0) fail("attaching " STRAIT_XDP_PROG_NAME " to " + ifname + " in generic mode", err);
    mode = AttachMode::generic;
  }
  ifindex_ = ifindex;
  attach_flags_ = mode == AttachMode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  try {
    pin_maps(pin_root, ifname);
  } catch (...) {
    detach();
    throw;
  }
  spdlog::info("xdp: {} attached to {} in {} mode, maps pinned under {}", STRAIT_XDP_PROG_NAME,
               ifname, to_string(mode), pin_dir_);
  return mode;
}

void XdpProgram::detach() {
  if (ifindex_ != 0 && object_ != nullptr) {
    // Only the program this object attached: REPLACE with old_prog_fd fails if it was swapped.
    bpf_xdp_attach_opts opts{};
    opts.sz = sizeof opts;
    opts.old_prog_fd = prog_fd_;
    const int err = bpf_xdp_detach(ifindex_, attach_flags_ | XDP_FLAGS_REPLACE, &opts);
    if (err != 0) spdlog::warn("xdp: detaching from ifindex {}: {}", ifindex_, errno_text(err));
  }
  ifindex_ = 0;  // an adopted program stays: the PMD that attached it detaches it on close
  unpin_maps();
}

void XdpProgram::pin_maps(std::string_view pin_root, const std::string& ifname) {
  const std::string dir = pin_dir_for(pin_root, ifname);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    throw XdpError("creating " + dir + ": " + ec.message() + " (is bpffs mounted on /sys/fs/bpf?)");
  pin_dir_ = dir;
  for (std::size_t i = 0; i < kMapCount; ++i) {
    const std::string path = dir + "/" + kMapNames[i];
    unlink(path.c_str());  // a pin left behind would make bpf_obj_pin fail with EEXIST
    if (bpf_obj_pin(map_fds_[i], path.c_str()) != 0) fail("pinning " + path, errno);
  }
}

void XdpProgram::unpin_maps() {
  if (pin_dir_.empty()) return;
  for (const char* name : kMapNames) unlink((pin_dir_ + "/" + name).c_str());
  rmdir(pin_dir_.c_str());  // fails harmlessly if someone else put files there
  pin_dir_.clear();
}

int XdpProgram::map_fd(std::string_view name) const {
  for (std::size_t i = 0; i < kMapCount; ++i)
    if (name == kMapNames[i]) return map_fds_[i];
  throw XdpError("no map named " + std::string(name));
}

// ---- maps ----

void XdpProgram::add_live_index(std::uint32_t index, std::optional<Cipher> cipher) {
  strait_xdp_live_index v{};
  if (cipher) v.data_type = *cipher == Cipher::aes256_gcm ? 0x84 : 4;  // messages.hpp data_type_for
  if (const int err = bpf_map_update_elem(map_fds_[kLiveIndices], &index, &v, BPF_ANY); err != 0)
    fail("adding live index " + std::to_string(index), err);
}

void XdpProgram::remove_live_index(std::uint32_t index) {
  const int err = bpf_map_delete_elem(map_fds_[kLiveIndices], &index);
  if (err != 0 && err != -ENOENT) fail("removing live index " + std::to_string(index), err);
}

void XdpProgram::allow_prefix(const IpPrefix& prefix) {
  const strait_xdp_lpm_key key = lpm_key(prefix);
  const std::uint8_t one = 1;
  if (const int err = bpf_map_update_elem(map_fds_[kAllowed], &key, &one, BPF_ANY); err != 0)
    fail("adding an allowed endpoint prefix", err);
}

void XdpProgram::disallow_prefix(const IpPrefix& prefix) {
  const strait_xdp_lpm_key key = lpm_key(prefix);
  const int err = bpf_map_delete_elem(map_fds_[kAllowed], &key);
  if (err != 0 && err != -ENOENT) fail("removing an allowed endpoint prefix", err);
}

void XdpProgram::sum_percpu(int fd, std::uint32_t entries, std::uint64_t* out) const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) fail("libbpf_num_possible_cpus", ncpu);
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpu));  // u64 values: 8-byte slots
  for (std::uint32_t key = 0; key < entries; ++key) {
    if (const int err = bpf_map_lookup_elem(fd, &key, per_cpu.data()); err != 0)
      fail("reading counter " + std::to_string(key), err);
    std::uint64_t sum = 0;
    for (const std::uint64_t v : per_cpu) sum += v;
    out[key] = sum;
  }
}

XdpCounters XdpProgram::read_counters() const {
  XdpCounters c;
  sum_percpu(map_fds_[kDrops], static_cast<std::uint32_t>(c.drops.size()), c.drops.data());
  sum_percpu(map_fds_[kVerdicts], static_cast<std::uint32_t>(c.verdicts.size()), c.verdicts.data());
  return c;
}

void XdpProgram::reset_counters() {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) fail("libbpf_num_possible_cpus", ncpu);
  const std::vector<std::uint64_t> zeros(static_cast<std::size_t>(ncpu), 0);
  const std::pair<MapSlot, std::uint32_t> maps[] = {{kDrops, STRAIT_XDP_DROP_COUNT},
                                                    {kVerdicts, STRAIT_XDP_VERDICT_COUNT}};
  for (const auto& [slot, entries] : maps) {
    for (std::uint32_t key = 0; key < entries; ++key)
      if (const int err = bpf_map_update_elem(map_fds_[slot], &key, zeros.data(), BPF_ANY);
          err != 0)
        fail("resetting counter " + std::to_string(key), err);
  }
}

}  // namespace strait::ebpf
