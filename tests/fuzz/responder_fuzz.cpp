// libFuzzer target: the handshake and cookie code on hostile input. Input byte 0 picks a mode:
//   0: the rest is a raw UDP payload, handled as the slow path would (classify, mac check,
//      decrypt, accept, respond; responses and cookie replies go to a waiting initiator);
//   1..3: the rest is XORed over a valid initiation / response / cookie reply, so the fuzzer
//      explores messages near the valid ones (all-zero input = the full successful path).
// Every input starts from fresh, deterministic state, so runs are reproducible.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/cookie.hpp"
#include "core/messages.hpp"
#include "core/noise.hpp"
#include "core/tai64n.hpp"
#include "crypto/primitives.hpp"

namespace {

using namespace strait;
using namespace strait::wg;
using namespace std::chrono_literals;

class CountingRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) b = static_cast<std::uint8_t>(++counter_ * 29 + 3);
  }

 private:
  std::uint32_t counter_ = 0;
};

Key key_from(std::uint8_t start) {
  Key k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(start + i);
  return k;
}

constexpr std::uint8_t kSource[6] = {198, 51, 100, 7, 0xca, 0x6c};

struct World {
  StaticIdentity alice = StaticIdentity::from_private(key_from(0x10));
  StaticIdentity bob = StaticIdentity::from_private(key_from(0x40));
  CountingRandom rng;
  Handshake alice_hs{alice, bob.public_key, key_from(0xd0)};
  Handshake bob_hs{bob, alice.public_key, key_from(0xd0)};
  CookieMaker alice_to_bob{bob.public_key};
  CookieMaker bob_to_alice{alice.public_key};
  CookieChecker bob_checker{bob};
  CookieChecker alice_checker{alice};
  MessageInitiation initiation;
  MessageResponse response;
  MessageCookieReply cookie_reply;

  // Alice has sent an initiation (and waits for the response); bob has a response and a
  // cookie reply ready that are not yet consumed.
  World() {
    (void)alice_hs.create_initiation(initiation, alice, 0x1234, tai64n_from_unix(1'700'000'000, 0),
                                     rng);
    alice_to_bob.add_macs(initiation, 1s);
    Handshake scratch(bob, alice.public_key, key_from(0xd0));
    auto pending = decrypt_initiation_static(bob, initiation);
    if (pending.ok() && scratch.accept_initiation(pending.value, 1s) == HandshakeError::ok) {
      (void)scratch.create_response(response, 0x5678, rng);
      bob_to_alice.add_macs(response, 1s);
    }
    (void)bob_checker.make_reply(cookie_reply, bytes_of(initiation), kSource, 1s, rng);
  }
};

void bob_receives_initiation(World& w, std::span<const std::uint8_t> bytes) {
  const auto p = parse_initiation(bytes);
  if (!p.ok()) return;
  for (bool under_load : {false, true}) {
    const MacVerdict v = w.bob_checker.check(bytes, kSource, under_load, 2s, w.rng);
    if (v == MacVerdict::invalid_mac2) {
      MessageCookieReply reply;
      (void)w.bob_checker.make_reply(reply, bytes, kSource, 2s, w.rng);
    }
  }
  // Past the macs regardless, to reach the Noise code with mutated bytes.
  auto pending = decrypt_initiation_static(w.bob, p.value);
  if (!pending.ok()) return;
  if (w.bob_hs.accept_initiation(pending.value, 2s) != HandshakeError::ok) return;
  MessageResponse resp;
  (void)w.bob_hs.create_response(resp, 0x9abc, w.rng);
}

void alice_receives(World& w, std::span<const std::uint8_t> bytes) {
  if (const auto r = parse_response(bytes); r.ok()) {
    (void)w.alice_checker.check(bytes, kSource, true, 2s, w.rng);
    (void)w.alice_hs.consume_response(r.value, w.alice);
  } else if (const auto c = parse_cookie_reply(bytes); c.ok()) {
    (void)w.alice_to_bob.consume_reply(c.value, 2s);
  }
}

template <class Msg>
void mutate_and_deliver(World& w, Msg msg, std::span<const std::uint8_t> patch) {
  auto bytes = mutable_bytes_of(msg);
  for (std::size_t i = 0; i < std::min(patch.size(), bytes.size()); ++i) bytes[i] ^= patch[i];
  bob_receives_initiation(w, bytes);
  alice_receives(w, bytes);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!strait::crypto::init()) __builtin_trap();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  World w;
  const std::span<const std::uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      bob_receives_initiation(w, rest);
      alice_receives(w, rest);
      break;
    case 1: mutate_and_deliver(w, w.initiation, rest); break;
    case 2: mutate_and_deliver(w, w.response, rest); break;
    case 3: mutate_and_deliver(w, w.cookie_reply, rest); break;
  }
  return 0;
}
