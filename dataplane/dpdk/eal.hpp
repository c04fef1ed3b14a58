#pragma once
// EalSession: the DPDK Environment Abstraction Layer of this process, initialised once and
// cleaned up on destruction. Owned by straitd's main thread (the EAL main lcore, which runs
// the slow path; see README.md in this directory).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strait::dp {

class EalSession {
 public:
  // Checks the host (hugepages, unless "--no-huge" is among the arguments), then calls
  // rte_eal_init with `args` (args[0] is the program name). The arguments must contain
  // "--file-prefix": each DPDK process on a host needs its own, or the second one fails to
  // lock the first one's runtime directory. rte_eal_init may run once per process, even after
  // a cleanup, so a second init() returns an error.
  [[nodiscard]] static Result<std::unique_ptr<EalSession>> init(std::vector<std::string> args);

  // rte_eal_cleanup. Every port, pool and worker must be gone before.
  ~EalSession();
  EalSession(const EalSession&) = delete;
  EalSession& operator=(const EalSession&) = delete;

 private:
  explicit EalSession(std::vector<std::string> args) : args_(std::move(args)) {}
  // rte_eal_init keeps pointers into argv for the process' lifetime in some versions.
  std::vector<std::string> args_;
  std::vector<char*> argv_;
  bool initialised_ = false;
};

// Pure checks, separated from the file reads so that tests need no particular host.
// `meminfo` is the text of /proc/meminfo, `mounts` the text of /proc/mounts.
[[nodiscard]] Result<void> check_hugepages(std::string_view meminfo, std::string_view mounts);

// check_hugepages over this host's /proc/meminfo and /proc/mounts.
[[nodiscard]] Result<void> check_host_hugepages();

}  // namespace strait::dp
