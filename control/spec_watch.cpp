#include "control/spec_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace strait::ctl {

Result<SpecWatch> SpecWatch::open(const std::string& spec_path) {
  std::filesystem::path dir = std::filesystem::path(spec_path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return Error{errno, std::string("inotify_init1: ") + std::strerror(errno)};
  // IN_MOVED_TO/IN_CREATE: a ConfigMap's ..data swap, or an editor's rename-over;
  // IN_CLOSE_WRITE: an in-place write; IN_DELETE/IN_ATTRIB: removal, permission changes.
  const std::uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE |
                             IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  if (::inotify_add_watch(fd, dir.c_str(), mask) < 0) {
    const int e = errno;
    ::close(fd);
    return Error{e, "watch " + dir.string() + ": " + std::strerror(e)};
  }
  return SpecWatch(fd);
}

SpecWatch::~SpecWatch() {
  if (fd_ >= 0) ::close(fd_);
}

bool SpecWatch::drain() {
  bool any = false;
  alignas(inotify_event) char buf[4096];
  for (;;) {
    const ssize_t r = ::read(fd_, buf, sizeof(buf));
    if (r <= 0) break;
    any = true;
  }
  return any;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ENOENT, path + ": " + std::strerror(errno)};
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error{EIO, path + ": read failed"};
  return ss.str();
}

}  // namespace strait::ctl
