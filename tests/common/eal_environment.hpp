#pragma once
// The EAL of a DPDK test executable and the pool its tests take mbufs from, shared by the
// executables of tests/dpdk. rte_eal_init may run once per process, so the EAL is a GoogleTest
// global environment: up before the first test, cleaned up after the last.
//
// What differs between executables is in EalPlan: the program name, which also makes the
// --file-prefix (two DPDK processes may not share one: the second finds the first's runtime
// directory locked, and the dpdk suite's executables may run one after the other while the
// previous one still exits), the lcores, the memory and whether it lives in hugepages. The mbufs
// come either from one plain pool without a per-lcore cache, so that rte_mempool_in_use_count
// is exact at every moment and MbufLeakCheck can compare it before and after each test (threads
// that are not EAL lcores may use it too), or from straitd's own PktmbufPools, sized as straitd
// sizes them, for the tests that open ports.
//
//   int main(int argc, char** argv) {
//     ::testing::InitGoogleTest(&argc, argv);
//     ::testing::AddGlobalTestEnvironment(
//         new test::EalEnvironment({.program = "dpdk_pipeline_test"}, test::PlainPool{2047}));
//     return RUN_ALL_TESTS();
//   }

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "dpdk/eal.hpp"
#include "dpdk/mempool.hpp"

namespace strait::test {

struct EalPlan {
  std::string program;       // argv[0]; the --file-prefix is "strait_" + program
  std::string lcores = "0";  // -l
  unsigned memory_mb = 512;  // -m
  bool hugepages = false;    // false: --no-huge; true: hugepages, unlinked at once (--huge-unlink)
};

[[nodiscard]] inline std::vector<std::string> eal_args(const EalPlan& plan) {
  std::vector<std::string> args = {plan.program,
                                   "-l",
                                   plan.lcores,
                                   "--no-pci",
                                   "-m",
                                   std::to_string(plan.memory_mb),
                                   "--file-prefix",
                                   "strait_" + plan.program,
                                   "--log-level",
                                   "*:warning"};
  args.emplace_back(plan.hugepages ? "--huge-unlink" : "--no-huge");
  return args;
}

// One pool of `mbufs` mbufs (a power of two minus one fits the ring best), no per-lcore cache.
struct PlainPool {
  unsigned mbufs;
};

// straitd's pools (one socket), sized from `sizing`.
struct StraitdPools {
  dp::MempoolSizing sizing;
};

// straitd's pools for two ports of 256-descriptor rings, the test's thread and one worker
// lcore (the vdev and wakeup tests).
[[nodiscard]] inline StraitdPools two_port_pools() {
  dp::MempoolSizing sizing;
  sizing.ring_descriptors = 8 * 256;
  sizing.lcores = 2;
  sizing.staging = 512;
  return StraitdPools{sizing};
}

namespace detail {
inline rte_mempool* g_mbuf_pool = nullptr;
}  // namespace detail

// The pool of this executable's tests; null before the environment is up.
[[nodiscard]] inline rte_mempool* mbuf_pool() { return detail::g_mbuf_pool; }

class EalEnvironment : public ::testing::Environment {
 public:
  EalEnvironment(EalPlan plan, std::variant<PlainPool, StraitdPools> pools)
      : plan_(std::move(plan)), pools_(pools) {}

  void SetUp() override {
    auto eal = dp::EalSession::init(eal_args(plan_));
    ASSERT_TRUE(eal.ok()) << eal.error().message;
    eal_ = std::move(eal).value();
    // No "strait_" here: a pool name has at most 27 characters (RTE_MEMPOOL_NAMESIZE).
    const std::string& pool_name = plan_.program;
    if (const auto* plain = std::get_if<PlainPool>(&pools_)) {
      plain_ = rte_pktmbuf_pool_create(pool_name.c_str(), plain->mbufs, 0, 0,
                                       RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
      ASSERT_NE(plain_, nullptr) << "rte_pktmbuf_pool_create " << pool_name;
      detail::g_mbuf_pool = plain_;
    } else {
      auto pools = dp::PktmbufPools::create(pool_name, {0}, std::get<StraitdPools>(pools_).sizing);
      ASSERT_TRUE(pools.ok()) << pools.error().message;
      straitd_ = std::move(pools).value();
      detail::g_mbuf_pool = straitd_->for_socket(0);
    }
  }

  void TearDown() override {
    detail::g_mbuf_pool = nullptr;
    rte_mempool_free(plain_);
    plain_ = nullptr;
    straitd_.reset();
    eal_.reset();
  }

 private:
  EalPlan plan_;
  std::variant<PlainPool, StraitdPools> pools_;
  std::unique_ptr<dp::EalSession> eal_;
  rte_mempool* plain_ = nullptr;
  std::unique_ptr<dp::PktmbufPools> straitd_;
};

// A fresh mbuf from the tests' pool holding `bytes`. The tailroom behind them is filled with
// 0xa5, so that padding a stage should write is not zero by luck.
inline rte_mbuf* mbuf_of(std::span<const std::uint8_t> bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(mbuf_pool());
  EXPECT_NE(m, nullptr) << "mbuf pool exhausted";
  if (m == nullptr) return nullptr;
  std::memset(rte_pktmbuf_mtod(m, void*), 0xa5, rte_pktmbuf_tailroom(m));
  char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size()));
  EXPECT_NE(p, nullptr) << bytes.size() << " bytes do not fit an mbuf";
  if (p != nullptr && !bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  return m;
}

// A test that ends with the pool's in-use count where it started: no mbuf leaked or freed
// twice. Exact with a PlainPool only (lcore caches of straitd's pools count as free).
class MbufLeakCheck : public ::testing::Test {
 protected:
  void SetUp() override { baseline_ = rte_mempool_in_use_count(mbuf_pool()); }
  void TearDown() override {
    EXPECT_EQ(rte_mempool_in_use_count(mbuf_pool()), baseline_) << "mbuf leak";
  }

 private:
  unsigned baseline_ = 0;
};

}  // namespace strait::test
