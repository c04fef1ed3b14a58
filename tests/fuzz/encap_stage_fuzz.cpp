// libFuzzer target: the encap stage (dataplane/pipeline/encap_stage.hpp) fed bridge frames in
// mbufs, one burst per input, on the two nodes of tests/common/pipeline_fixture.hpp; what A
// puts on the wire is then decapsulated by B. Input byte 0 picks A's setup (cipher, outer
// IPv6, with or without keypair / endpoint / staging ring, with or without the way back to
// the bridge for ICMP too-big and IPv4 fragmentation); the rest are records
// (pipeline_fuzz_support.hpp) whose kind picks:
//   even: the bytes are a whole bridge frame (EtherType, ARP / ND to the slow path);
//   odd:  the bytes are an inner IP packet, framed as from A's pod, so the fuzzer spends its
//         time on IP parsing, routes, path MTU, fragmentation and MSS clamping.
// After each input every mbuf must be back in the pool (staged packets are drained when the
// node goes away, as the slow path's ring owner does).
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/pipeline_fixture.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"
#include "pipeline_fuzz_support.hpp"

namespace {

using namespace strait;

constexpr std::size_t kMaxFrames = 32;
constexpr std::size_t kWireRoom = kMaxFrames + dp::kEncapFragmentRoom;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_eal("encap_stage_fuzz");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t setup = data[0];
  test::NodeOptions o;
  o.cipher = (setup & 1) != 0 ? strait::Cipher::aes256_gcm : strait::Cipher::chacha20_poly1305;
  o.outer_v6 = (setup & 2) != 0;
  o.with_keypair = (setup & 4) == 0;
  o.with_endpoint = (setup & 8) == 0;
  o.staging_size = (setup & 16) != 0 ? 8 : 0;
  const bool with_bridge_path = (setup & 32) == 0;
  {
    test::Node a, b;
    test::build_node(a, o);
    test::build_node(b,
                     test::side_b(test::NodeOptions{.cipher = o.cipher, .outer_v6 = o.outer_v6}));

    std::array<rte_mbuf*, kMaxFrames> in{}, to_slow{}, to_bridge{};
    std::array<rte_mbuf*, kWireRoom> to_wire{};
    std::uint16_t n = 0;
    for (const fuzz::Record& r : fuzz::records_of({data + 1, size - 1}, kMaxFrames)) {
      if ((r.kind & 1) != 0 && !r.bytes.empty()) {  // bridge_frame reads the version nibble
        const test::Bytes frame = test::bridge_frame(test::Bytes(r.bytes.begin(), r.bytes.end()));
        in[n++] = fuzz::mbuf_of(frame);
      } else {
        in[n++] = fuzz::mbuf_of(r.bytes);
      }
    }
    const dp::EncapResult res =
        with_bridge_path
            ? dp::encap_burst(a.ctx, *a.state, in.data(), n, to_wire.data(), to_slow.data(),
                              to_bridge.data())
            : dp::encap_burst(a.ctx, *a.state, in.data(), n, to_wire.data(), to_slow.data());
    if (res.to_wire > kWireRoom || res.to_slow_path > n || res.to_bridge > n) __builtin_trap();
    fuzz::free_all({to_slow.data(), res.to_slow_path});
    fuzz::free_all({to_bridge.data(), res.to_bridge});

    // What A sent, B takes apart (in chunks the size of B's burst arrays).
    std::array<rte_mbuf*, kWireRoom> b_bridge{}, b_handshake{}, b_slow{};
    const dp::DecapResult back =
        dp::decap_burst(b.ctx, *b.state, to_wire.data(), res.to_wire, b_bridge.data(),
                        b_handshake.data(), b_slow.data());
    fuzz::free_all({b_bridge.data(), back.to_bridge});
    fuzz::free_all({b_handshake.data(), back.to_handshake});
    fuzz::free_all({b_slow.data(), back.to_slow_path});
  }
  fuzz::check_pool_full();
  return 0;
}
