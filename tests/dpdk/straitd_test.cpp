// The real straitd binary, started as a child process over net_ring vdevs (no NIC, no
// hugepages: --no-huge), driven by the stock wg(8) tool through its UAPI socket. Needs root
// (the socket directory /var/run/wireguard) and wg; skips without wg.
//
//   this test ── wg show/set/showconf ──> /var/run/wireguard/st<pid>.sock ──> straitd
//                                                                            ├ wire:   net_ring
//                                                                            └ bridge: net_ring
//
// Also the start-up errors: each must exit with its documented code and say what is wrong.
// The path of the binary comes as the first argument (tests/dpdk/meson.build).

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string g_straitd;  // path of the binary under test

struct ToolRun {
  int status = -1;
  std::string output;
};

ToolRun run(const std::string& cmd) {
  ToolRun r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// One straitd child with its stderr in a log file.
class Straitd {
 public:
  explicit Straitd(std::vector<std::string> args) {
    static int counter = 0;
    log_ = "/tmp/straitd_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
           ".log";
    args.insert(args.begin(), g_straitd);
    pid_ = ::fork();
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Straitd() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      (void)wait_exit(std::chrono::seconds(10));
    }
    std::remove(log_.c_str());
  }

  // The exit code, or -1 if it did not exit in time (or died of a signal).
  int wait_exit(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  bool running() {
    int st = 0;
    if (exited_) return false;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      exited_ = true;
      return false;
    }
    return true;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  std::string log() const { return read_file(log_); }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_;
};

class StraitdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (g_straitd.empty()) GTEST_SKIP() << "no straitd path given";
    tag_ = "st" + std::to_string(::getpid());
    key_file_ = "/tmp/" + tag_ + ".key";
  }
  void TearDown() override { std::remove(key_file_.c_str()); }

  std::vector<std::string> base_args() const {
    return {"--ifname",
            tag_,
            "--wire",
            "net_ring_" + tag_ + "w",
            "--bridge",
            "net_ring_" + tag_ + "b",
            "--wire-ip",
            "192.0.2.1",
            "--wire-gateway-mac",
            "02:00:00:00:00:01",
            "--lcores",
            "1",
            "--main-lcore",
            "0",
            "--file-prefix",
            "straitd_test_" + tag_,
            "--no-huge",
            "-m",
            "256"};
  }
  std::string socket_path() const { return "/var/run/wireguard/" + tag_ + ".sock"; }

  std::string tag_;
  std::string key_file_;
};

TEST_F(StraitdTest, ServesWgAndStopsCleanlyOnSigterm) {
  if (run("command -v wg").status != 0) GTEST_SKIP() << "wg(8) not installed";
  ASSERT_EQ(run("umask 077; wg genkey > " + key_file_).status, 0);
  const std::string our_public = trim(run("wg pubkey < " + key_file_).output);

  auto args = base_args();
  args.insert(args.end(), {"--private-key-file", key_file_, "--listen-port", "51999"});
  Straitd d(args);

  // Bounded wait for the UAPI (EAL start-up takes a moment); not a timing assertion.
  ToolRun show;
  for (int i = 0; i < 300; ++i) {
    if (!d.running()) break;
    if (exists(socket_path())) {
      show = run("wg show " + tag_);
      if (show.status == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(show.status, 0) << show.output << "\nstraitd log:\n" << d.log();
  EXPECT_THAT(show.output, HasSubstr("interface: " + tag_));
  EXPECT_THAT(show.output, HasSubstr("public key: " + our_public));
  EXPECT_THAT(show.output, HasSubstr("listening port: 51999"));

  // A second straitd on the same interface name must refuse (socket in use), and leave the
  // first one's socket alone.
  {
    Straitd second(base_args());
    EXPECT_EQ(second.wait_exit(std::chrono::seconds(30)), 1);
    EXPECT_THAT(second.log(), HasSubstr("socket path in use"));
  }
  EXPECT_TRUE(exists(socket_path()));

  ToolRun peer_key = run("wg genkey | wg pubkey");
  const std::string peer = trim(peer_key.output);
  ToolRun set = run("wg set " + tag_ + " peer " + peer +
                    " allowed-ips 10.9.0.0/24 endpoint 192.0.2.2:51820 persistent-keepalive 25");
  EXPECT_EQ(set.status, 0) << set.output << "\nstraitd log:\n" << d.log();
  ToolRun conf = run("wg showconf " + tag_);
  EXPECT_EQ(conf.status, 0) << conf.output;
  EXPECT_THAT(conf.output, HasSubstr("ListenPort = 51999"));
  EXPECT_THAT(conf.output, HasSubstr("PublicKey = " + peer));
  EXPECT_THAT(conf.output, HasSubstr("AllowedIPs = 10.9.0.0/24"));
  EXPECT_THAT(conf.output, HasSubstr("Endpoint = 192.0.2.2:51820"));
  EXPECT_THAT(conf.output, HasSubstr("PersistentKeepalive = 25"));

  // The listen port moves with the UAPI (and the steering with it).
  EXPECT_EQ(run("wg set " + tag_ + " listen-port 52000").status, 0);
  EXPECT_THAT(run("wg show " + tag_ + " listen-port").output, HasSubstr("52000"));

  ToolRun remove = run("wg set " + tag_ + " peer " + peer + " remove");
  EXPECT_EQ(remove.status, 0) << remove.output;
  EXPECT_THAT(run("wg showconf " + tag_).output, Not(HasSubstr(peer)));

  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(30)), 0) << d.log();
  EXPECT_FALSE(exists(socket_path())) << "the socket must be unlinked on exit";
  EXPECT_THAT(d.log(), HasSubstr("stopped"));
}

TEST_F(StraitdTest, MalformedKeyFileExitsOne) {
  { std::ofstream(key_file_) << "this is not a key\n"; }
  ::chmod(key_file_.c_str(), 0600);  // a 0644 file is refused before it is parsed
  auto args = base_args();
  args.insert(args.end(), {"--private-key-file", key_file_});
  Straitd d(args);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(30)), 1);
  EXPECT_THAT(d.log(), HasSubstr("private key file '" + key_file_ +
                                 "' is malformed: expected 44 "
                                 "base64 characters"));
  EXPECT_FALSE(exists(socket_path()));
}

TEST_F(StraitdTest, KeyFileOthersCanReadExitsOne) {
  { std::ofstream(key_file_) << "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"; }
  ::chmod(key_file_.c_str(), 0644);
  auto args = base_args();
  args.insert(args.end(), {"--private-key-file", key_file_});
  Straitd d(args);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(30)), 1);
  EXPECT_THAT(d.log(), HasSubstr("is accessible to group or others (mode 0644): anyone on the "
                                 "node could read the key; fix it with: chmod 600 " +
                                 key_file_));
  EXPECT_FALSE(exists(socket_path()));
}

// First start on a new node: straitd makes its key (0600) and writes the public key for the
// agent to publish; `wg show` reports that same public key.
TEST_F(StraitdTest, MakesItsKeyOnFirstStart) {
  if (run("command -v wg").status != 0) GTEST_SKIP() << "wg(8) not installed";
  std::remove(key_file_.c_str());
  const std::string pub_file = key_file_ + ".pub";
  auto args = base_args();
  args.insert(args.end(), {"--private-key-file", key_file_, "--create-private-key",
                           "--public-key-file", pub_file});
  Straitd d(args);
  ToolRun show;
  for (int i = 0; i < 300; ++i) {
    if (!d.running()) break;
    if (exists(socket_path())) {
      show = run("wg show " + tag_ + " public-key");
      if (show.status == 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(show.status, 0) << show.output << "\nstraitd log:\n" << d.log();
  struct stat st {};
  ASSERT_EQ(::stat(key_file_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  EXPECT_EQ(trim(run("wg pubkey < " + key_file_).output), trim(show.output));
  EXPECT_EQ(trim(run("cat " + pub_file).output), trim(show.output));
  EXPECT_THAT(d.log(), HasSubstr("made a new private key in " + key_file_));
  std::remove(pub_file.c_str());
}

TEST_F(StraitdTest, MissingKeyFileExitsOne) {
  auto args = base_args();
  args.insert(args.end(), {"--private-key-file", "/nonexistent/strait.key"});
  Straitd d(args);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(30)), 1);
  EXPECT_THAT(d.log(), HasSubstr("cannot read private key file '/nonexistent/strait.key': No such "
                                 "file or directory"));
}

TEST_F(StraitdTest, UnknownPortExitsOne) {
  auto args = base_args();
  args[3] = "net_bogus_" + tag_;  // --wire
  Straitd d(args);
  EXPECT_EQ(d.wait_exit(std::chrono::seconds(60)), 1);
  EXPECT_THAT(d.log(), HasSubstr("port wire: cannot open device 'net_bogus_" + tag_ + "'"));
  EXPECT_FALSE(exists(socket_path())) << "the socket must be unlinked on a failed start";
}

TEST_F(StraitdTest, UsageErrorsExitTwo) {
  Straitd missing({"--bridge", "net_ring0", "--wire-ip", "192.0.2.1"});
  EXPECT_EQ(missing.wait_exit(std::chrono::seconds(10)), 2);
  EXPECT_THAT(missing.log(), HasSubstr("straitd: missing --wire"));
  Straitd bogus({"--frobnicate"});
  EXPECT_EQ(bogus.wait_exit(std::chrono::seconds(10)), 2);
  EXPECT_THAT(bogus.log(), HasSubstr("unknown option '--frobnicate'"));
  Straitd help({"--help"});
  EXPECT_EQ(help.wait_exit(std::chrono::seconds(10)), 0);
  EXPECT_THAT(help.log(), HasSubstr("--wire-gateway-mac"));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) g_straitd = argv[1];
  return RUN_ALL_TESTS();
}
