#include "straitd/node_key.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/key_base64.hpp"
#include "crypto/primitives.hpp"

namespace strait::straitd {
namespace {

// A key file holds 44 characters and a newline; anything longer is not a key file (and is
// never read into memory that would then need wiping).
constexpr std::size_t kMaxKeyFileBytes = 256;

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Closes the descriptor on every path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Writes `text` to `path` through `path.tmp` (O_EXCL, `mode`), fsync, rename.
Result<void> write_file_atomically(const std::string& path, std::string_view text, mode_t mode,
                                   std::string_view what) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover of a crash between open and rename
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (fd.get() < 0) {
    return Error{"cannot create " + std::string(what) + " '" + tmp + "': " + std::strerror(errno) +
                 " (does the directory exist and may straitd write it?)"};
  }
  // The umask may have narrowed `mode`; a public key file must stay readable by the agent.
  if (::fchmod(fd.get(), mode) != 0 ||
      ::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(fd.get()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot write " + std::string(what) + " '" + tmp + "': " + std::strerror(err)};
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Error{"cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(err)};
  }
  return {};
}

}  // namespace

Result<Key> parse_private_key(std::string_view text) {
  std::string why;
  auto key = wg::key_from_base64(trim(text), &why, wg::KeyText::secret);
  if (!key) return Error{why};
  return *key;
}

Result<Key> load_private_key_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    const int err = errno;
    return Error{"cannot read private key file '" + path + "': " + std::strerror(err) +
                 (err == ENOENT ? " (let straitd make one: --create-private-key; or: "
                                  "(umask 077; wg genkey > " +
                                      path + "))"
                                : std::string())};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Error{"cannot stat private key file '" + path + "': " + std::strerror(errno)};
  }
  if (!S_ISREG(st.st_mode)) {
    return Error{"private key file '" + path + "' is not a regular file"};
  }
  if ((st.st_mode & 077) != 0) {
    return Error{"private key file '" + path + "' is accessible to group or others (mode " +
                 mode_text(st.st_mode) + "): anyone on the node could read the key; fix it " +
                 "with: chmod 600 " + path + " (and consider the key compromised and rotating it)"};
  }
  std::array<char, kMaxKeyFileBytes> buf{};
  std::size_t len = 0;
  while (len < buf.size()) {
    const ssize_t n = ::read(fd.get(), buf.data() + len, buf.size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      sodium_memzero(buf.data(), buf.size());
      return Error{"cannot read private key file '" + path + "': " + std::strerror(err)};
    }
    if (n == 0) break;
    len += static_cast<std::size_t>(n);
  }
  Result<Key> key =
      len == buf.size()
          ? Result<Key>(Error{"longer than " + std::to_string(kMaxKeyFileBytes) + " bytes"})
          : parse_private_key(std::string_view(buf.data(), len));
  sodium_memzero(buf.data(), buf.size());
  if (!key) {
    return Error{"private key file '" + path + "' is malformed: " + key.error().message};
  }
  return key;
}

Result<Key> create_private_key_file(const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0) {
    return Error{"private key file '" + path + "' exists: straitd never replaces a key"};
  }
  Key key{};
  crypto::x25519_generate(key);
  std::string text = wg::key_to_base64(key) + "\n";
  auto written = write_file_atomically(path, text, 0600, "private key file");
  sodium_memzero(text.data(), text.size());
  if (!written) {
    sodium_memzero(key.data(), key.size());
    return written.error();
  }
  return key;
}

Result<void> write_public_key_file(const std::string& path, const Key& public_key) {
  return write_file_atomically(path, wg::key_to_base64(public_key) + "\n", 0644, "public key file");
}

Result<NodeKey> load_or_create_node_key(const std::string& path, bool create) {
  NodeKey out;
  struct stat st {};
  if (create && ::lstat(path.c_str(), &st) != 0 && errno == ENOENT) {
    auto made = create_private_key_file(path);
    if (!made) return made.error();
    out.private_key = made.value();
    out.created = true;
  } else {
    auto loaded = load_private_key_file(path);
    if (!loaded) return loaded.error();
    out.private_key = loaded.value();
  }
  crypto::x25519_public(out.public_key, out.private_key);
  return out;
}

}  // namespace strait::straitd
