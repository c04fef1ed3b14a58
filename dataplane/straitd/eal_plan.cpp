#include "straitd/eal_plan.hpp"

#include <algorithm>
#include <cctype>

namespace strait::straitd {

bool is_pci_address(std::string_view devargs) {
  std::string_view name = devargs.substr(0, devargs.find(','));
  auto hex = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return std::isxdigit(static_cast<unsigned char>(c)) != 0;
    });
  };
  // [domain:]bus:device.function, e.g. 0000:3b:00.1 or 3b:00.1 (DPDK's PCI address syntax).
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 2 != name.size() || name[dot + 1] < '0' ||
      name[dot + 1] > '7') {
    return false;
  }
  std::string_view head = name.substr(0, dot);
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (true) {
    std::size_t c = head.find(':', pos);
    parts.push_back(
        head.substr(pos, c == std::string_view::npos ? std::string_view::npos : c - pos));
    if (c == std::string_view::npos) break;
    pos = c + 1;
  }
  if (parts.size() == 2)
    return parts[0].size() == 2 && hex(parts[0]) && parts[1].size() == 2 && hex(parts[1]);
  if (parts.size() == 3) {
    return parts[0].size() == 4 && hex(parts[0]) && parts[1].size() == 2 && hex(parts[1]) &&
           parts[2].size() == 2 && hex(parts[2]);
  }
  return false;
}

std::string eal_log_level(std::string_view level) {
  // DPDK is chatty at its info/debug levels; ours map one step quieter.
  if (level == "trace") return "*:debug";
  if (level == "debug") return "*:info";
  if (level == "info") return "*:notice";
  if (level == "warn") return "*:warning";
  if (level == "error") return "*:error";
  if (level == "critical") return "*:critical";
  return "*:emergency";
}

std::vector<std::string> eal_arguments(const Options& o) {
  std::vector<std::string> a = {"straitd"};
  std::string lcores = std::to_string(o.main_lcore);
  for (unsigned w : o.worker_lcores) lcores += "," + std::to_string(w);
  a.insert(a.end(), {"-l", lcores, "--main-lcore", std::to_string(o.main_lcore), "--file-prefix",
                     o.effective_file_prefix()});
  if (o.no_huge) {
    a.emplace_back("--no-huge");
    a.insert(a.end(), {"-m", std::to_string(o.memory_mb != 0 ? o.memory_mb : 256)});
  } else {
    // Hugepage files are unlinked once mapped: a crashed straitd leaves none behind.
    a.emplace_back("--huge-unlink");
    if (o.memory_mb != 0) a.insert(a.end(), {"-m", std::to_string(o.memory_mb)});
    if (!o.socket_mem.empty()) a.insert(a.end(), {"--socket-mem", o.socket_mem});
  }
  // PCI ports go on the allow list (with their devargs), so that the EAL probes only them;
  // vdevs are hot-plugged by Port::open.
  bool any_pci = false;
  for (const std::string* dev : {&o.wire, &o.bridge}) {
    if (is_pci_address(*dev)) {
      a.insert(a.end(), {"-a", *dev});
      any_pci = true;
    }
  }
  if (!any_pci) a.emplace_back("--no-pci");
  a.insert(a.end(), {"--log-level", eal_log_level(o.log_level)});
  return a;
}

bool needs_equal_queue_counts(std::string_view devargs) {
  for (std::string_view driver : {"net_tap", "net_tun", "net_af_packet", "net_af_xdp"}) {
    if (devargs.rfind(driver, 0) == 0) return true;
  }
  return false;
}

PortQueues port_queues(std::size_t workers, std::string_view devargs) {
  const auto w = static_cast<std::uint16_t>(workers);
  if (needs_equal_queue_counts(devargs)) return {w, w, false};
  return {w, static_cast<std::uint16_t>(w + 1), true};
}

std::string port_devargs(std::string_view devargs, bool busy_poll) {
  std::string out(devargs);
  if (busy_poll || devargs.rfind("net_af_xdp", 0) != 0) return out;
  // A devargs key is preceded by a comma (the first item is the device name).
  if (out.find(",busy_budget=") == std::string::npos) out += ",busy_budget=0";
  return out;
}

std::string explain_port_error(std::string_view message, std::size_t workers) {
  std::string m(message);
  if (m.find(" queues, straitd needs ") != std::string::npos) {
    m += "; straitd needs " + std::to_string(workers) + " RX and " + std::to_string(workers + 1) +
         " TX queues per port (one each per worker lcore, plus a TX queue for the slow path): "
         "use fewer --lcores or a device with more queues";
  }
  return m;
}

}  // namespace strait::straitd
