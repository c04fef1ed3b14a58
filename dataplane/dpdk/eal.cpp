#include "dpdk/eal.hpp"

#include <rte_eal.h>
#include <rte_errno.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <sstream>

namespace strait::dp {
namespace {

constexpr std::string_view kHugepageFix =
    "echo 1024 > /proc/sys/vm/nr_hugepages and mount -t hugetlbfs nodev /dev/hugepages "
    "(deploy/setup-host.sh does both), or pass --no-huge for a test";

// rte_eal_init may be called once per process; remember that it was.
std::atomic<bool> g_eal_initialised{false};

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of "Key:   123 kB" lines of /proc/meminfo; -1 when absent.
long meminfo_value(std::string_view meminfo, std::string_view key) {
  std::size_t pos = 0;
  while (pos < meminfo.size()) {
    std::size_t eol = meminfo.find('\n', pos);
    if (eol == std::string_view::npos) eol = meminfo.size();
    std::string_view line = meminfo.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ':') {
      std::string_view rest = line.substr(key.size() + 1);
      std::size_t first = rest.find_first_not_of(" \t");
      if (first == std::string_view::npos) return -1;
      rest = rest.substr(first);
      long value = -1;
      auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
      (void)ptr;
      return ec == std::errc() ? value : -1;
    }
  }
  return -1;
}

// True when a line of /proc/mounts has file system type hugetlbfs (third field).
bool hugetlbfs_mounted(std::string_view mounts) {
  std::size_t pos = 0;
  while (pos < mounts.size()) {
    std::size_t eol = mounts.find('\n', pos);
    if (eol == std::string_view::npos) eol = mounts.size();
    std::string_view line = mounts.substr(pos, eol - pos);
    pos = eol + 1;
    std::size_t a = line.find(' ');
    if (a == std::string_view::npos) continue;
    std::size_t b = line.find(' ', a + 1);
    if (b == std::string_view::npos) continue;
    std::size_t c = line.find(' ', b + 1);
    if (line.substr(b + 1, c == std::string_view::npos ? std::string_view::npos : c - b - 1) ==
        "hugetlbfs") {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<void> check_hugepages(std::string_view meminfo, std::string_view mounts) {
  long free_pages = meminfo_value(meminfo, "HugePages_Free");
  if (free_pages < 0) {
    return Error{"cannot read HugePages_Free from /proc/meminfo (kernel without hugetlb?)"};
  }
  if (free_pages == 0) {
    return Error{"no free hugepages: " + std::string(kHugepageFix)};
  }
  if (!hugetlbfs_mounted(mounts)) {
    return Error{"no hugetlbfs mounted (" + std::to_string(free_pages) +
                 " free hugepages but DPDK cannot map them): " + std::string(kHugepageFix)};
  }
  return {};
}

Result<void> check_host_hugepages() {
  return check_hugepages(read_file("/proc/meminfo"), read_file("/proc/mounts"));
}

Result<std::unique_ptr<EalSession>> EalSession::init(std::vector<std::string> args) {
  if (args.empty()) args.emplace_back("straitd");
  auto has = [&](std::string_view flag) {
    return std::any_of(args.begin(), args.end(), [&](const std::string& a) {
      return a == flag || (a.size() > flag.size() && a.compare(0, flag.size(), flag) == 0 &&
                           a[flag.size()] == '=');
    });
  };
  if (!has("--file-prefix")) {
    return Error{"EAL arguments lack --file-prefix: every DPDK process on a host needs its own"};
  }
  if (!has("--no-huge")) {
    if (auto r = check_host_hugepages(); !r) return r.error();
  }
  if (g_eal_initialised.exchange(true)) {
    return Error{"the DPDK EAL was already initialised in this process (it can be only once)"};
  }

  std::unique_ptr<EalSession> session(new EalSession(std::move(args)));
  for (std::string& a : session->args_) session->argv_.push_back(a.data());
  session->argv_.push_back(nullptr);
  int argc = static_cast<int>(session->args_.size());
  if (rte_eal_init(argc, session->argv_.data()) < 0) {
    int err = rte_errno;
    session.reset();  // not initialised: the destructor must not clean up
    return Error{"rte_eal_init failed: " + std::string(rte_strerror(err)) +
                 " (see the EAL messages above; is another process using the same "
                 "--file-prefix, or are the -l/--vdev arguments wrong?)"};
  }
  session->initialised_ = true;
  return session;
}

EalSession::~EalSession() {
  if (initialised_) rte_eal_cleanup();
}

}  // namespace strait::dp
