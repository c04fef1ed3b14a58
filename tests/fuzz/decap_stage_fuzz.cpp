// libFuzzer target: the decap stage (dataplane/pipeline/decap_stage.hpp) fed whole wire frames
// in mbufs, one burst per input, on the two nodes of tests/common/pipeline_fixture.hpp (A
// sends, B decapsulates). Input byte 0 picks B's setup (cipher, outer IPv6, keypair as the
// unconfirmed next, punting of non-tunnel frames, an expired keypair); the rest are records
// (pipeline_fuzz_support.hpp) whose kind picks:
//   even: the bytes are a raw wire frame (outer parsing, message checks, index lookup, replay
//         pre-check, and the AEAD refusing forgeries);
//   odd:  the bytes are an inner packet that A seals with encap_one into a valid transport
//         message, so the fuzzer reaches what follows authentication (inner IP parsing,
//         allowed-IPs source check, MSS clamping, reframing for the bridge).
// After each input every mbuf must be back in the pool.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/pipeline_fixture.hpp"
#include "crypto/primitives.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"
#include "pipeline_fuzz_support.hpp"

namespace {

using namespace strait;

constexpr std::size_t kMaxFrames = 32;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_eal("decap_stage_fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t setup = data[0];
  test::NodeOptions o;
  o.cipher = (setup & 1) != 0 ? strait::Cipher::aes256_gcm : strait::Cipher::chacha20_poly1305;
  o.outer_v6 = (setup & 2) != 0;
  o.punt_non_tunnel = (setup & 8) != 0;
  if ((setup & 16) != 0)
    o.birth_ns = test::kNow - std::int64_t{200} * 1'000'000'000;  // > reject_after
  {
    test::Node a, b;
    test::build_node(a, o);
    test::NodeOptions ob = test::side_b(o);
    ob.is_next = (setup & 4) != 0;
    test::build_node(b, ob);

    std::array<rte_mbuf*, kMaxFrames> in{}, to_bridge{}, to_handshake{}, to_slow{};
    std::uint16_t n = 0;
    for (const fuzz::Record& r : fuzz::records_of({data + 1, size - 1}, kMaxFrames)) {
      rte_mbuf* m = fuzz::mbuf_of(r.bytes);
      if ((r.kind & 1) != 0 &&
          dp::encap_one(a.ctx, *a.state, 0, *a.keypair->keypair, m) != DropReason::none) {
        continue;  // encap_one freed it (too big, keypair expired)
      }
      in[n++] = m;
    }
    const dp::DecapResult res = dp::decap_burst(b.ctx, *b.state, in.data(), n, to_bridge.data(),
                                                to_handshake.data(), to_slow.data());
    if (res.to_bridge + res.to_handshake + res.to_slow_path > n) __builtin_trap();
    fuzz::free_all({to_bridge.data(), res.to_bridge});
    fuzz::free_all({to_handshake.data(), res.to_handshake});
    fuzz::free_all({to_slow.data(), res.to_slow_path});
  }
  fuzz::check_pool_full();
  return 0;
}
