// ReplayWindow: a numbered case table in the manner of the Linux module's counter selftest,
// a differential test against a naive reference, and multi-thread stress tests.

#include "core/replay_window.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <vector>

namespace strait::wg {
namespace {

constexpr std::uint64_t kW = ReplayWindow::kWindowSize;  // 8160
constexpr std::uint64_t kLim = kW + 1;                   // first distance that is too old
constexpr std::uint64_t kR = kRejectAfterMessages;

TEST(ReplayWindow, WindowIsAtLeast8192MinusOneWord) {
  EXPECT_EQ(ReplayWindow::kRingBits, 8192U);
  EXPECT_GE(ReplayWindow::kWindowSize, 8192U - 64U);
  EXPECT_EQ(alignof(ReplayWindow), 64U);
}

struct Case {
  std::uint64_t counter;
  bool accepted;
};

// Each case runs check() then commit() on the same window; single-threaded they must agree.
void run_table(ReplayWindow& w, const std::vector<Case>& cases) {
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    EXPECT_EQ(w.check(c.counter), c.accepted) << "case " << i + 1 << " check " << c.counter;
    EXPECT_EQ(w.commit(c.counter), c.accepted) << "case " << i + 1 << " commit " << c.counter;
  }
}

TEST(ReplayWindow, NumberedCases) {
  ReplayWindow w;
  run_table(w, {
                   /*  1 */ {0, true},  // counter 0 is valid
                   /*  2 */ {1, true},
                   /*  3 */ {1, false},  // duplicate
                   /*  4 */ {9, true},   // gap
                   /*  5 */ {8, true},   // reordered
                   /*  6 */ {7, true},
                   /*  7 */ {7, false},
                   /*  8 */ {kLim, true},  // H = kLim
                   /*  9 */ {kLim - 1, true},
                   /* 10 */ {kLim - 1, false},
                   /* 11 */ {kLim - 2, true},
                   /* 12 */ {2, true},  // H - 2 = kW - 1: inside
                   /* 13 */ {2, false},
                   /* 14 */ {kLim + 16, true},
                   /* 15 */ {3, false},  // now too old
                   /* 16 */ {kLim + 16, false},
                   /* 17 */ {kLim * 4, true},       // far jump
                   /* 18 */ {kLim * 4 - kW, true},  // exactly the left edge
                   /* 19 */ {10, false},
                   /* 20 */ {kLim * 4 - kLim, false},  // one past the edge
                   /* 21 */ {kLim * 4 - kLim - 1, false},
                   /* 22 */ {kLim * 4 - kW + 1, true},
                   /* 23 */ {kLim * 4 - kW, false},  // the edge counter again: duplicate
                   /* 24 */ {0, false},
                   /* 25 */ {kR, false},     // REJECT_AFTER_MESSAGES itself
                   /* 26 */ {kR - 1, true},  // the last usable counter
                   /* 27 */ {kR, false},
                   /* 28 */ {kR - 1, false},
                   /* 29 */ {kR - 2, true},
                   /* 30 */ {kR + 1, false},
                   /* 31 */ {kR + 2, false},
                   /* 32 */ {kR - 2, false},
                   /* 33 */ {kR - 3, true},
                   /* 34 */ {0, false},
                   /* 35 */ {UINT64_MAX, false},
                   /* 36 */ {kR - 1 - kW, true},  // left edge at the very top of the range
                   /* 37 */ {kR - 2 - kW, false},
               });
}

// Counters that share a slot across generations (8192 apart), and the blocks at the edge.
TEST(ReplayWindow, SlotReuseAcrossGenerations) {
  ReplayWindow w;
  constexpr std::uint64_t kRing = ReplayWindow::kRingBits;
  run_table(w, {
                   /*  1 */ {100, true},
                   /*  2 */ {100 + kRing + 10, true},  // H; 100's slot is one generation back
                   /*  3 */ {100 + kRing, true},       // same slot and bit as 100: stale, ignored
                   /*  4 */ {100 + kRing, false},
                   /*  5 */ {100, false},  // too old
                   /*  6 */ {101, false},  // 8201 behind: too old
                   /*  7 */ {174, true},   // 8128 behind: inside
                   /*  8 */ {174, false},
               });
}

TEST(ReplayWindow, EdgeBlockStaysUsableUntilItLeaves) {
  ReplayWindow w;
  constexpr std::uint64_t kRing = ReplayWindow::kRingBits;
  run_table(w, {
                   /*  1 */ {kRing, true},  // H = 8192, slot 0 now generation 1
                   /*  2 */ {0, false},     // 8192 behind
                   /*  3 */ {31, false},    // 8161 behind: one past the edge
                   /*  4 */ {32, true},     // 8160 behind: the edge, slot 1 block 1
                   /*  5 */ {33, true},
                   /*  6 */ {kRing + 32, true},  // H = 8224: slot 1 moves to block 257
                   /*  7 */ {33, false},         // too old now
                   /*  8 */ {64, true},          // 8160 behind the new H
                   /*  9 */ {kRing + 33, true},
                   /* 10 */ {kRing + 32, false},
               });
}

TEST(ReplayWindow, ResetForgetsEverything) {
  ReplayWindow w;
  ASSERT_TRUE(w.commit(5));
  ASSERT_TRUE(w.commit(100000));
  EXPECT_FALSE(w.check(5));
  w.reset();
  EXPECT_TRUE(w.check(5));
  EXPECT_TRUE(w.commit(5));
  EXPECT_TRUE(w.commit(0));
  EXPECT_FALSE(w.commit(5));
}

// The naive reference: the set of committed counters still inside the window, and the highest.
class ReferenceWindow {
 public:
  enum Verdict { kAccept, kDuplicate, kTooOld, kLimit };
  Verdict verdict(std::uint64_t c) const {
    if (c >= kR) return kLimit;
    if (any_ && c < max_ && max_ - c > kW) return kTooOld;
    return seen_.count(c) == 0 ? kAccept : kDuplicate;
  }
  bool commit(std::uint64_t c) {
    if (verdict(c) != kAccept) return false;
    seen_.insert(c);
    if (!any_ || c > max_) max_ = c;
    any_ = true;
    if (max_ > kW) seen_.erase(seen_.begin(), seen_.lower_bound(max_ - kW));
    return true;
  }
  [[nodiscard]] std::uint64_t max() const { return max_; }

 private:
  std::set<std::uint64_t> seen_;
  std::uint64_t max_ = 0;
  bool any_ = false;
};

// Random traffic from a sender that counts up: mostly in order; some packets held back and
// delivered later in random order (many inside the window, some after they left it);
// duplicates of recent packets; probes right at the left edge; losses (small gaps), forward
// jumps, now and then a huge jump, and (limit_jumps) a jump to just below
// REJECT_AFTER_MESSAGES. Returns how often each verdict occurred.
std::array<int, 4> differential(std::uint64_t seed, int ops, std::uint64_t start,
                                bool limit_jumps) {
  std::mt19937_64 rng(seed);
  ReplayWindow w;
  ReferenceWindow ref;
  std::vector<std::uint64_t> held;
  std::array<std::uint64_t, 256> recent{};  // the last counters delivered
  std::size_t delivered = 0;
  std::uint64_t next = start;
  auto below = [&](std::uint64_t base, std::uint64_t d) { return base > d ? base - d : 0; };
  std::array<int, 4> verdicts{};
  for (int i = 0; i < ops; ++i) {
    const std::uint64_t r = rng() % 10000;
    std::uint64_t c;
    if (r < 1000) {
      held.push_back(next++);
      continue;
    }
    if (r < 5000) {
      c = next++;
    } else if (r < 6500 && !held.empty()) {
      const std::size_t k = rng() % held.size();
      c = held[k];
      held[k] = held.back();
      held.pop_back();
    } else if (r < 8000 && delivered > 0) {
      c = recent[rng() % std::min(delivered, recent.size())];  // a replay
    } else if (r < 9000) {
      const std::uint64_t edge = below(ref.max(), kW);
      c = rng() % 2 ? edge + rng() % 4 : below(edge, rng() % 4);
    } else if (r < 9900) {
      next += 1 + rng() % 20;
      c = next++;
    } else if (r < 9920) {
      next += 1 + rng() % 20000;
      c = next++;
    } else if (r < 9921) {
      next += rng() % (1ULL << 40);
      c = next++;
    } else if (r < 9923 && limit_jumps) {
      next = kR - rng() % 30000;
      c = next++;
    } else {
      c = next++;
    }
    const auto want = ref.verdict(c);
    if (w.check(c) != (want == ReferenceWindow::kAccept) || w.commit(c) != ref.commit(c)) {
      ADD_FAILURE() << "seed " << seed << " op " << i << " counter " << c << " max " << ref.max()
                    << ": reference verdict " << want;
      return {};
    }
    ++verdicts[want];
    recent[delivered++ % recent.size()] = c;
  }
  return verdicts;
}

TEST(ReplayWindow, DifferentialAgainstNaiveReference) {
  // The mix must exercise every outcome a lot.
  for (std::uint64_t seed : {1, 2, 3}) {
    const auto v = differential(seed, 1'000'000, seed == 3 ? 1ULL << 62 : 0, false);
    EXPECT_GT(v[ReferenceWindow::kAccept], 500'000) << seed;
    EXPECT_GT(v[ReferenceWindow::kDuplicate], 100'000) << seed;
    EXPECT_GT(v[ReferenceWindow::kTooOld], 50'000) << seed;
  }
  // Near the limit: the limit itself is what this run probes.
  const auto v = differential(4, 300'000, kR - 1'000'000, true);
  EXPECT_GT(v[ReferenceWindow::kAccept], 1000);
  EXPECT_GT(v[ReferenceWindow::kLimit], 300);
}

// Keeps a set of threads in near lockstep: a thread may start chunk n only when every thread
// has finished chunk n - 1 - max_lead. Lockstep makes the threads hit the same slots at the
// same time, which is what the stress tests are for. Waiting yields: the machine may have
// fewer cores than threads.
class Throttle {
 public:
  Throttle(int threads, std::uint64_t max_lead) : done_(threads), max_lead_(max_lead) {}
  void wait_to_start(std::uint64_t chunk) {
    for (;;) {
      std::uint64_t slowest = UINT64_MAX;
      for (auto& d : done_) slowest = std::min(slowest, d.load(std::memory_order_acquire));
      if (chunk <= slowest + max_lead_) return;
      std::this_thread::yield();
    }
  }
  void finished(int thread, std::uint64_t chunk) {
    done_[thread].store(chunk + 1, std::memory_order_release);
  }

 private:
  std::vector<std::atomic<std::uint64_t>> done_;
  std::uint64_t max_lead_;
};

// Runs `threads` workers over counters [0, chunk * chunks); counter c is committed by the
// `copies` threads c % threads, (c + 1) % threads, ...; each thread walks its counters chunk
// by chunk, shuffled within a chunk, paced by a Throttle. Returns how often each counter was
// accepted. `precheck`: call check() first, as the data path does.
std::unique_ptr<std::atomic<std::uint8_t>[]> run_concurrent(ReplayWindow& w, int threads,
                                                            int copies, std::uint64_t chunk,
                                                            std::uint64_t chunks,
                                                            std::uint64_t max_lead, bool precheck) {
  auto accepts = std::make_unique<std::atomic<std::uint8_t>[]>(chunk * chunks);
  Throttle throttle(threads, max_lead);
  auto worker = [&](int t) {
    std::mt19937_64 rng(100 + t);
    std::vector<std::uint64_t> mine;
    for (std::uint64_t n = 0; n < chunks; ++n) {
      throttle.wait_to_start(n);
      mine.clear();
      for (std::uint64_t c = n * chunk; c < (n + 1) * chunk; ++c) {
        const int owner = static_cast<int>(c % threads);
        if ((t - owner + threads) % threads < copies) mine.push_back(c);
      }
      std::shuffle(mine.begin(), mine.end(), rng);
      for (std::uint64_t c : mine) {
        if ((!precheck || w.check(c)) && w.commit(c)) {
          accepts[c].fetch_add(1, std::memory_order_relaxed);
        }
      }
      throttle.finished(t, n);
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(threads));
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker, t);
  for (auto& th : pool) th.join();
  return accepts;
}

// Every counter is committed by two of four threads, in chunks of 256 shuffled, no thread
// more than one chunk ahead of the slowest: every commit is at most ~770 counters behind the
// highest, far inside the window. So each counter must be accepted exactly once: never
// twice, and never refused by both threads.
TEST(ReplayWindow, ConcurrentCommitsAcceptEachCounterExactlyOnce) {
  constexpr std::uint64_t kChunk = 256;
  constexpr std::uint64_t kChunks = 8192;  // 2^21 counters, 2^22 commits
  constexpr std::uint64_t kMaxLead = 1;
  static_assert((kMaxLead + 2) * kChunk < kW);
  for (bool precheck : {true, false}) {
    ReplayWindow w;
    const auto accepts = run_concurrent(w, 4, 2, kChunk, kChunks, kMaxLead, precheck);
    std::uint64_t twice = 0, never = 0;
    for (std::uint64_t c = 0; c < kChunk * kChunks; ++c) {
      const auto n = accepts[c].load();
      twice += n > 1;
      never += n == 0;
    }
    EXPECT_EQ(twice, 0U) << "precheck " << precheck;
    EXPECT_EQ(never, 0U) << "precheck " << precheck;
  }
}

// Chunks twice as wide as the ring, shuffled, three of four threads per counter: many
// counters arrive past the left edge while other threads move the window and replace slots
// with newer blocks. Refusals are expected now; accepting a counter twice is still never
// allowed. Afterwards every counter must be refused (accepted before, or too old).
TEST(ReplayWindow, ConcurrentCommitsAtTheEdgeNeverAcceptTwice) {
  constexpr std::uint64_t kChunk = 2 * ReplayWindow::kRingBits;
  constexpr std::uint64_t kChunks = 128;
  ReplayWindow w;
  const auto accepts = run_concurrent(w, 4, 3, kChunk, kChunks, 0, false);
  std::uint64_t twice = 0, once = 0;
  for (std::uint64_t c = 0; c < kChunk * kChunks; ++c) {
    const auto n = accepts[c].load();
    twice += n > 1;
    once += n == 1;
  }
  EXPECT_EQ(twice, 0U);
  EXPECT_GT(once, kChunk * kChunks / 4);  // the run did exercise acceptance
  for (std::uint64_t c = 0; c < kChunk * kChunks; ++c) ASSERT_FALSE(w.commit(c)) << c;
}

}  // namespace
}  // namespace strait::wg
