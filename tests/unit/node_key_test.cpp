// The node's key file (straitd/node_key.hpp): parsing as `wg genkey` writes it, refusing a
// file others can read (fails before the file had its own owner: a 0644 key was accepted),
// making a key on first start, keeping an existing one, and the public key file.

#include "straitd/node_key.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "core/key_base64.hpp"
#include "crypto/primitives.hpp"

namespace strait::straitd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A key `wg genkey` wrote, its bytes (base64 -d | xxd) and its public key (wg pubkey).
constexpr const char* kKeyBase64 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
constexpr strait::Key kKeyBytes = {0xc8, 0x09, 0xf3, 0xe5, 0x31, 0x7e, 0x95, 0x75, 0xc9, 0xb5, 0xed,
                                   0x78, 0xb6, 0x38, 0xb7, 0xce, 0x53, 0x0d, 0xab, 0xe8, 0x5d, 0xda,
                                   0xb6, 0x14, 0x22, 0x02, 0x41, 0x80, 0x1d, 0xdf, 0x06, 0x69};

// A directory of its own per test, removed with what is in it.
class KeyDir {
 public:
  KeyDir() {
    char tmpl[] = "/tmp/node_key_test_XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~KeyDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string write(const std::string& name, const std::string& text, mode_t mode) const {
    std::string p = file(name);
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(NodeKey, ParsesWhatWgGenkeyWrites) {
  auto k = parse_private_key(std::string(kKeyBase64) + "\n");
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k.value(), kKeyBytes);
  EXPECT_EQ(wg::key_to_base64(kKeyBytes), kKeyBase64);

  auto short_key = parse_private_key("abc=");
  ASSERT_FALSE(short_key.ok());
  EXPECT_THAT(short_key.error().message,
              HasSubstr("expected 44 base64 characters ending in '=' as written by `wg genkey`, "
                        "found 4 characters"));
  std::string bad = kKeyBase64;
  bad[5] = '*';
  auto bad_char = parse_private_key(bad);
  ASSERT_FALSE(bad_char.ok());
  // The message names the position, never the character: it is part of a private key.
  EXPECT_THAT(bad_char.error().message, HasSubstr("character 6 is not base64"));
  std::string padding = kKeyBase64;
  padding[42] = 'n';  // 'k' = 36 = 100100b carries two zero bits; 'n' = 39 = 100111b does not
  auto bad_pad = parse_private_key(padding);
  ASSERT_FALSE(bad_pad.ok());
  EXPECT_THAT(bad_pad.error().message, HasSubstr("non-zero padding bits"));
}

TEST(NodeKey, LoadsA0600File) {
  KeyDir dir;
  auto k = load_private_key_file(dir.write("private.key", std::string(kKeyBase64) + "\n", 0600));
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k.value(), kKeyBytes);
  // 0400 is fine too (a read-only hostPath file).
  auto ro = load_private_key_file(dir.write("ro.key", kKeyBase64, 0400));
  EXPECT_TRUE(ro.ok());
}

// Numbered cases: a key file the group or others can read or write is refused, and the
// message says how to fix it.
TEST(NodeKey, RefusesAKeyFileOthersCanRead) {
  struct Case {
    mode_t mode;
    const char* shown;
  } cases[] = {{0644, "0644"}, {0640, "0640"}, {0604, "0604"}, {0660, "0660"}, {0602, "0602"}};
  KeyDir dir;
  for (const Case& c : cases) {
    const std::string p = dir.write("k", kKeyBase64, c.mode);
    auto k = load_private_key_file(p);
    ASSERT_FALSE(k.ok()) << "mode " << c.shown << " was accepted";
    EXPECT_THAT(k.error().message,
                HasSubstr("private key file '" + p + "' is accessible to group or others (mode " +
                          c.shown + ")"));
    EXPECT_THAT(k.error().message, HasSubstr("fix it with: chmod 600 " + p));
    EXPECT_THAT(k.error().message, Not(HasSubstr(kKeyBase64)));
  }
}

TEST(NodeKey, ErrorsNameTheFileAndNeverTheKey) {
  KeyDir dir;
  const std::string bad = dir.write("bad.key", "not a key\n", 0600);
  auto b = load_private_key_file(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.error().message,
              HasSubstr("private key file '" + bad + "' is malformed: expected 44 base64"));

  const std::string missing = dir.file("missing.key");
  auto m = load_private_key_file(missing);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.error().message,
              HasSubstr("cannot read private key file '" + missing +
                        "': No such file or "
                        "directory (let straitd make one: --create-private-key"));

  const std::string big = dir.write("big.key", std::string(300, 'A'), 0600);
  auto g = load_private_key_file(big);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.error().message, HasSubstr("is malformed: longer than 256 bytes"));

  auto d = load_private_key_file(dir.file(""));
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message, HasSubstr("is not a regular file"));
}

TEST(NodeKey, MakesAKeyOnFirstStartAndKeepsItAfter) {
  KeyDir dir;
  const std::string p = dir.file("private.key");
  auto first = load_or_create_node_key(p, /*create=*/true);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first.value().created);
  EXPECT_EQ(mode_of(p), 0600U);
  EXPECT_EQ(read(p).size(), 45U);  // 44 characters and a newline, as `wg genkey` writes
  strait::Key expected_public{};
  crypto::x25519_public(expected_public, first.value().private_key);
  EXPECT_EQ(first.value().public_key, expected_public);

  auto again = load_or_create_node_key(p, /*create=*/true);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(again.value().created);
  EXPECT_EQ(again.value().private_key, first.value().private_key);

  // Two nodes never share a key.
  auto other = load_or_create_node_key(dir.file("other.key"), true);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other.value().private_key, first.value().private_key);

  // Without create, a missing file stays an error.
  auto none = load_or_create_node_key(dir.file("none.key"), false);
  EXPECT_FALSE(none.ok());
  EXPECT_NE(::access(dir.file("none.key").c_str(), F_OK), 0);

  // An existing key is never replaced.
  auto twice = create_private_key_file(p);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(twice.error().message, HasSubstr("exists: straitd never replaces a key"));
}

TEST(NodeKey, CreateRefusesToStartOnAnUnsafeExistingFile) {
  KeyDir dir;
  const std::string p = dir.write("private.key", kKeyBase64, 0644);
  auto k = load_or_create_node_key(p, /*create=*/true);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(k.error().message, HasSubstr("chmod 600"));
  EXPECT_EQ(read(p), kKeyBase64);  // left as it was
}

TEST(NodeKey, WritesThePublicKeyFileForPublishing) {
  KeyDir dir;
  const std::string p = dir.write("private.key", std::string(kKeyBase64) + "\n", 0600);
  auto k = load_or_create_node_key(p, false);
  ASSERT_TRUE(k.ok());
  const std::string pub = dir.file("public.key");
  ASSERT_TRUE(write_public_key_file(pub, k.value().public_key).ok());
  // `wg pubkey <<< yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=`
  EXPECT_EQ(read(pub), "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=\n");
  EXPECT_EQ(mode_of(pub), 0644U);
  EXPECT_NE(::access((pub + ".tmp").c_str(), F_OK), 0);
}

}  // namespace
}  // namespace strait::straitd
