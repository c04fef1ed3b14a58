#pragma once
// Notices changes of the mesh spec file. A Kubernetes ConfigMap volume updates a file by an
// atomic symlink swap in the file's directory (`mesh.yaml -> ..data/mesh.yaml`, and `..data`
// renamed over to a new timestamped directory), so the file itself never changes: an inotify
// watch on the file would go stale after the first update. We watch the DIRECTORY and treat
// any event in it as "maybe changed"; the agent then re-reads the file and compares contents,
// so spurious events cost one read. The agent also re-reads on every resync as a fallback
// (inotify can overflow, and some volume types give no events at all).

#include <string>

#include "base/result.hpp"

namespace strait::ctl {

class SpecWatch {
 public:
  // Watches the directory of `spec_path`. An error when inotify or the directory is missing.
  [[nodiscard]] static Result<SpecWatch> open(const std::string& spec_path);
  SpecWatch(SpecWatch&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  SpecWatch& operator=(SpecWatch&&) = delete;
  SpecWatch(const SpecWatch&) = delete;
  ~SpecWatch();

  // Poll this for POLLIN.
  [[nodiscard]] int fd() const { return fd_; }
  // Reads every pending event without blocking; true if there was any.
  [[nodiscard]] bool drain();

 private:
  explicit SpecWatch(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// Reads a whole file; an error naming the file when it cannot.
[[nodiscard]] Result<std::string> read_file(const std::string& path);

}  // namespace strait::ctl
