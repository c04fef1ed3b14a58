// Peer sync against a real UapiServer in this process, whose device is the reference model
// (uapi::apply_change): add, update (VIP change), remove, idempotence, foreign peers kept.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "agent_test_support.hpp"
#include "control/peer_sync.hpp"
#include "core/key_base64.hpp"
#include "uapi/server.hpp"

namespace strait::ctl {
namespace {

class ModelDevice : public uapi::Handler {
 public:
  uapi::DeviceState get() override {
    std::lock_guard lock(mu_);
    return state_;
  }
  Result<void> apply(const uapi::DeviceChange& change) override {
    std::lock_guard lock(mu_);
    ++sets_;
    uapi::apply_change(state_, change);
    return {};
  }
  int sets() {
    std::lock_guard lock(mu_);
    return sets_;
  }
  void set_state(const uapi::DeviceState& s) {
    std::lock_guard lock(mu_);
    state_ = s;
  }

 private:
  std::mutex mu_;
  uapi::DeviceState state_;
  int sets_ = 0;
};

class Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/strait-agent-sync-XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    dir_ = templ;
    auto s = uapi::UapiServer::listen(dir_ + "/strait0.sock");
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{server_->fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) server_->service(dev_);
      }
    });
  }
  void TearDown() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  uapi::UapiClient client() {
    auto c = uapi::UapiClient::connect(dir_ + "/strait0.sock");
    EXPECT_TRUE(c) << c.error().message;
    return std::move(*c);
  }
  static DesiredState desired_for(const std::string& yaml, const char* node,
                                  std::set<strait::Key>* keys) {
    auto spec = parse_mesh_spec(yaml);
    EXPECT_TRUE(spec) << spec.error().message;
    keys->clear();
    for (const auto& n : spec->nodes) keys->insert(n.public_key);
    auto d = compute_desired_state(*spec, node);
    EXPECT_TRUE(d);
    return *d;
  }
  const uapi::PeerState* peer(const uapi::DeviceState& s, const char* key_b64) {
    const auto key = wg::key_from_base64(key_b64);
    for (const auto& p : s.peers) {
      if (p.public_key == *key) return &p;
    }
    return nullptr;
  }

  ModelDevice dev_;
  std::string dir_;
  std::unique_ptr<uapi::UapiServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(Fixture, AddsThenSendsNothingTheSecondTime) {
  std::set<strait::Key> keys;
  const DesiredState d = desired_for(testing::kSpec2x2, "a1", &keys);
  PeerSync sync;
  auto c = client();
  auto plan = sync.sync(c, d, keys);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->added, (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(dev_.sets(), 1);

  const uapi::DeviceState s = dev_.get();
  ASSERT_EQ(s.peers.size(), 2u);
  const auto* b1 = peer(s, testing::kKeyB1);
  ASSERT_NE(b1, nullptr);
  EXPECT_EQ(b1->endpoint->to_string(), "198.51.100.1:51820");
  EXPECT_EQ(b1->cipher, strait::Cipher::aes256_gcm);
  EXPECT_EQ(b1->persistent_keepalive, 15);
  ASSERT_EQ(b1->allowed_ips.size(), 1u);
  EXPECT_EQ(b1->allowed_ips[0].to_string(), "10.132.0.0/23");
  EXPECT_EQ(peer(s, testing::kKeyB2)->cipher, strait::Cipher::chacha20_poly1305);

  auto again = sync.sync(c, d, keys);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(dev_.sets(), 1) << "a second run with no change must send nothing";

  // A fresh agent (restarted) over the same device also finds nothing to do.
  PeerSync fresh;
  auto third = fresh.sync(c, d, keys);
  ASSERT_TRUE(third);
  EXPECT_TRUE(third->empty());
  EXPECT_EQ(dev_.sets(), 1);
}

TEST_F(Fixture, VipChangeUpdatesOnlyThatPeer) {
  std::set<strait::Key> keys;
  PeerSync sync;
  auto c = client();
  ASSERT_TRUE(sync.sync(c, desired_for(testing::kSpec2x2, "a1", &keys), keys));
  std::string moved = testing::kSpec2x2;
  moved.replace(moved.find("198.51.100.1:51820"), 18, "198.51.100.9:4500");
  auto plan = sync.sync(c, desired_for(moved, "a1", &keys), keys);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->added.empty());
  EXPECT_EQ(plan->updated, (std::vector<std::string>{"b1"}));
  ASSERT_EQ(plan->change.peers.size(), 1u);
  EXPECT_TRUE(plan->change.peers[0].replace_allowed_ips);
  EXPECT_EQ(peer(dev_.get(), testing::kKeyB1)->endpoint->to_string(), "198.51.100.9:4500");
  EXPECT_EQ(dev_.sets(), 2);
}

TEST_F(Fixture, RoamedEndpointIsLeftAlone) {
  std::set<strait::Key> keys;
  const DesiredState d = desired_for(testing::kSpec2x2, "a1", &keys);
  PeerSync sync;
  auto c = client();
  ASSERT_TRUE(sync.sync(c, d, keys));
  // The device roamed b1 to the source address of its packets (the remote node's SNAT).
  uapi::DeviceState s = dev_.get();
  for (auto& p : s.peers) {
    if (p.public_key == *wg::key_from_base64(testing::kKeyB1)) {
      p.endpoint = uapi::Endpoint::v4({203, 0, 113, 7}, 40000);
    }
  }
  dev_.set_state(s);
  auto plan = sync.sync(c, d, keys);
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->empty());
  // But a lost allowed IP is restored, without touching the roamed endpoint.
  s = dev_.get();
  for (auto& p : s.peers) {
    if (p.public_key == *wg::key_from_base64(testing::kKeyB1)) p.allowed_ips.clear();
  }
  dev_.set_state(s);
  plan = sync.sync(c, d, keys);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->updated, (std::vector<std::string>{"b1"}));
  ASSERT_EQ(plan->change.peers.size(), 1u);
  EXPECT_FALSE(plan->change.peers[0].endpoint);
  EXPECT_EQ(peer(dev_.get(), testing::kKeyB1)->endpoint->to_string(), "203.0.113.7:40000");
}

TEST_F(Fixture, RemovesOwnedPeersKeepsForeignOnes) {
  // A peer added by hand (wg set), not in the spec.
  uapi::DeviceState s;
  uapi::PeerState foreign;
  foreign.public_key = *wg::key_from_base64(testing::kKeyC1);
  foreign.allowed_ips = {IpPrefix::v4({172, 16, 0, 0}, 12)};
  s.peers.push_back(foreign);
  dev_.set_state(s);

  std::set<strait::Key> keys;
  PeerSync sync;
  auto c = client();
  ASSERT_TRUE(sync.sync(c, desired_for(testing::kSpec2x2, "a1", &keys), keys));
  EXPECT_EQ(dev_.get().peers.size(), 3u);

  // b2 leaves the mesh: its peer is removed (installed by us), the foreign one stays.
  std::string smaller = testing::kSpec2x2;
  smaller.erase(smaller.find("  - name: b2"),
                smaller.find("defaults:") - smaller.find("  - name: b2"));
  auto plan = sync.sync(c, desired_for(smaller, "a1", &keys), keys);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->removed, (std::vector<std::string>{testing::kKeyB2}));
  const uapi::DeviceState after = dev_.get();
  EXPECT_EQ(after.peers.size(), 2u);
  EXPECT_EQ(peer(after, testing::kKeyB2), nullptr);
  EXPECT_NE(peer(after, testing::kKeyC1), nullptr);

  // Cleanup removes what is ours, not the foreign peer.
  auto n = sync.remove_owned(c, keys);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
  ASSERT_EQ(dev_.get().peers.size(), 1u);
  EXPECT_NE(peer(dev_.get(), testing::kKeyC1), nullptr);
}

TEST_F(Fixture, RestartedStraitdGetsItsPeersBack) {
  std::set<strait::Key> keys;
  const DesiredState d = desired_for(testing::kSpec2x2, "b1", &keys);
  PeerSync sync;
  auto c = client();
  ASSERT_TRUE(sync.sync(c, d, keys));
  dev_.set_state({});  // straitd restarted: no peers
  auto plan = sync.sync(c, d, keys);
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->added, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(dev_.get().peers.size(), 2u);
}

TEST_F(Fixture, StockWireGuardNodeGetsNoCipherKey) {
  std::set<strait::Key> keys;
  const DesiredState d = desired_for(testing::kSpec2x2, "b2", &keys);  // straitd: false
  EXPECT_FALSE(d.local_straitd);
  PeerSync sync;
  auto c = client();
  auto plan = sync.sync(c, d, keys);
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->change.peers.size(), 2u);
  for (const auto& pc : plan->change.peers) EXPECT_FALSE(pc.cipher);
  EXPECT_EQ(uapi::render_set(plan->change).find("strait_cipher"), std::string::npos);
  auto again = sync.sync(c, d, keys);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

TEST(AgentPeerSync, UnreachableDeviceIsAnError) {
  auto c = uapi::UapiClient::connect("/tmp/strait-agent-no-such-dir/x.sock");
  EXPECT_FALSE(c);
}

}  // namespace
}  // namespace strait::ctl
