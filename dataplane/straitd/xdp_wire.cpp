#include "straitd/xdp_wire.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <exception>

#ifdef STRAIT_HAVE_XDP
#include "xdp_loader.hpp"
#endif

namespace strait::straitd {

std::optional<std::string> devarg_value(std::string_view devargs, std::string_view key) {
  std::size_t pos = 0;
  while (pos <= devargs.size()) {
    std::size_t end = devargs.find(',', pos);
    if (end == std::string_view::npos) end = devargs.size();
    const std::string_view item = devargs.substr(pos, end - pos);
    if (item.size() > key.size() && item.substr(0, key.size()) == key && item[key.size()] == '=') {
      return std::string(item.substr(key.size() + 1));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

bool is_af_xdp(std::string_view devargs) { return devargs.rfind("net_af_xdp", 0) == 0; }

#ifdef STRAIT_HAVE_XDP

struct XdpWire::Impl {
  std::string iface;
  std::optional<ebpf::XdpProgram> program;
  ebpf::XdpConfig config;
  std::map<std::uint32_t, Cipher> live;  // what live_indices holds
};

namespace {

// The program's coarse cap on handshake messages of all sources together (ebpf/README.md):
// about what one slow-path thread can examine (a mac1 check each; cookie replies under load
// cost more, and the exception ring absorbs the difference). Well above any real mesh's
// handshake rate (one initiation per peer per REKEY_AFTER_TIME), so it only bites a flood.
constexpr std::uint32_t kHandshakesPerSecond = 100'000;
constexpr std::uint32_t kHandshakeBurst = 10'000;

// The object straitd hands the PMD by default: the installed one, else the build tree's.
std::string default_object() {
  for (const char* p : {STRAIT_XDP_OBJECT_INSTALLED, STRAIT_XDP_OBJECT_BUILT}) {
    if (access(p, R_OK) == 0) return p;
  }
  return STRAIT_XDP_OBJECT_INSTALLED;
}

}  // namespace

std::unique_ptr<XdpWire> XdpWire::prepare(const Options& o, std::string& devargs) {
  if (!is_af_xdp(devargs)) return nullptr;
  auto iface = devarg_value(devargs, "iface");
  if (!iface) return nullptr;  // the PMD will refuse the port and say why
  try {
    if (ebpf::XdpProgram::remove_stale(*iface)) {
      spdlog::warn("xdp: removed a strait_xdp program and pins a previous run left on {}", *iface);
    }
  } catch (const std::exception& e) {
    spdlog::warn("xdp: checking {} for a stale program: {}", *iface, e.what());
  }
  if (!devarg_value(devargs, "xdp_prog")) {
    if (o.no_xdp_program) {
      spdlog::info("xdp: --no-xdp-program: the PMD's default program on {} (no early drop)",
                   *iface);
      return nullptr;
    }
    const std::string object = o.xdp_program.empty() ? default_object() : o.xdp_program;
    if (access(object.c_str(), R_OK) != 0) {
      spdlog::warn(
          "xdp: {} not readable: the PMD's default program on {} (no early drop; "
          "--xdp-program PATH names the object)",
          object, *iface);
      return nullptr;
    }
    devargs += ",xdp_prog=" + object;
  }
  auto impl = std::make_unique<Impl>();
  impl->iface = *iface;
  return std::unique_ptr<XdpWire>(new XdpWire(std::move(impl)));
}

bool XdpWire::adopt(std::uint16_t tunnel_port) {
  try {
    impl_->program.emplace(ebpf::XdpProgram::adopt(impl_->iface));
    impl_->config.tunnel_port = tunnel_port;
    impl_->config.allowlist = false;
    impl_->config.handshakes_per_second = kHandshakesPerSecond;
    impl_->config.handshake_burst = kHandshakeBurst;
    impl_->program->configure(impl_->config);
    spdlog::info("xdp: strait_xdp on {} steers UDP port {}; maps pinned under {}", impl_->iface,
                 tunnel_port, impl_->program->pin_dir());
    return true;
  } catch (const std::exception& e) {
    impl_->program.reset();
    spdlog::warn("xdp: cannot adopt the XDP program on {}: {} (no early drop)", impl_->iface,
                 e.what());
    return false;
  }
}

void XdpWire::set_tunnel_port(std::uint16_t port) {
  if (!impl_->program || impl_->config.tunnel_port == port) return;
  try {
    impl_->config.tunnel_port = port;
    impl_->program->configure(impl_->config);
  } catch (const std::exception& e) {
    spdlog::warn("xdp: setting the tunnel port: {}", e.what());
  }
}

void XdpWire::sync(const dp::ForwardingState& state) {
  if (!impl_->program) return;
  std::map<std::uint32_t, Cipher> next;
  for (const auto& p : state.keypairs_held) {
    if (p && p->keypair) next.emplace(p->keypair->local_index, p->keypair->cipher);
  }
  try {
    for (const auto& [index, cipher] : impl_->live) {
      auto it = next.find(index);
      if (it == next.end()) impl_->program->remove_live_index(index);
    }
    for (const auto& [index, cipher] : next) {
      auto it = impl_->live.find(index);
      if (it == impl_->live.end() || it->second != cipher) {
        impl_->program->add_live_index(index, cipher);
      }
    }
    impl_->live = std::move(next);
  } catch (const std::exception& e) {
    // The next snapshot retries from what is known to be there.
    impl_->live.clear();
    spdlog::warn("xdp: updating live_indices: {}", e.what());
  }
}

void XdpWire::add_drops(std::array<std::uint64_t, kDropReasonCount>& into) const {
  if (!impl_->program) return;
  try {
    const ebpf::XdpCounters c = impl_->program->read_counters();
    for (std::size_t i = 0; i < kDropReasonCount; ++i) into[i] += c.drops[i];
  } catch (const std::exception& e) {
    spdlog::warn("xdp: reading counters: {}", e.what());
  }
}

void XdpWire::close() {
  if (impl_->program) impl_->program->detach();
  impl_->program.reset();
}

#else  // no libbpf: a net_af_xdp port runs with the PMD's default program

struct XdpWire::Impl {};

std::unique_ptr<XdpWire> XdpWire::prepare(const Options& o, std::string& devargs) {
  if (is_af_xdp(devargs) && !o.no_xdp_program) {
    spdlog::warn(
        "xdp: straitd built without libbpf: the PMD's default XDP program (no early drop)");
  }
  return nullptr;
}
bool XdpWire::adopt(std::uint16_t) { return false; }
void XdpWire::set_tunnel_port(std::uint16_t) {}
void XdpWire::sync(const dp::ForwardingState&) {}
void XdpWire::add_drops(std::array<std::uint64_t, kDropReasonCount>&) const {}
void XdpWire::close() {}

#endif

XdpWire::XdpWire(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
XdpWire::~XdpWire() { close(); }

}  // namespace strait::straitd
