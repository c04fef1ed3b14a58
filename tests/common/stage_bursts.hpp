#pragma once
// One burst of frames through a node's stage in a test: the frames go into fresh mbufs
// (mbuf_of), through encap_burst or decap_burst, and the bytes of what comes out are kept in
// the vectors the caller passes (null: not kept); every output mbuf is freed, so a test's
// MbufLeakCheck sees the pool back at its baseline. Shared by the tests of tests/dpdk on the
// nodes of pipeline_fixture.hpp.

#include <rte_mbuf.h>

#include <cstdint>
#include <vector>

#include "common/eal_environment.hpp"
#include "common/pipeline_fixture.hpp"
#include "pipeline/decap_stage.hpp"
#include "pipeline/encap_stage.hpp"

namespace strait::test {

namespace detail {
inline void keep_and_free(rte_mbuf** pkts, std::uint16_t n, std::vector<Bytes>* keep) {
  if (keep != nullptr)
    for (std::uint16_t i = 0; i < n; ++i) keep->push_back(bytes_of(pkts[i]));
  free_all(pkts, n);
}
}  // namespace detail

// A's encap stage over `frames` (bridge frames) as one burst. With `bridge` the stage has a
// way back to the bridge (ICMP too-big, path MTU); without, it drops what it would send back.
inline dp::EncapResult encap(Node& a, const std::vector<Bytes>& frames, std::vector<Bytes>* wire,
                             std::vector<Bytes>* slow = nullptr,
                             std::vector<Bytes>* bridge = nullptr) {
  std::vector<rte_mbuf*> in;
  for (const Bytes& f : frames) in.push_back(mbuf_of(f));
  std::vector<rte_mbuf*> to_wire(in.size() + dp::kEncapFragmentRoom), to_slow(in.size()),
      to_bridge(in.size());
  const auto n = static_cast<std::uint16_t>(in.size());
  const dp::EncapResult r =
      bridge != nullptr
          ? dp::encap_burst(a.ctx, *a.state, in.data(), n, to_wire.data(), to_slow.data(),
                            to_bridge.data())
          : dp::encap_burst(a.ctx, *a.state, in.data(), n, to_wire.data(), to_slow.data());
  detail::keep_and_free(to_wire.data(), r.to_wire, wire);
  detail::keep_and_free(to_slow.data(), r.to_slow_path, slow);
  detail::keep_and_free(to_bridge.data(), r.to_bridge, bridge);
  return r;
}

// B's decap stage over `frames` (wire frames) as one burst.
inline dp::DecapResult decap(Node& b, const std::vector<Bytes>& frames, std::vector<Bytes>* bridge,
                             std::vector<Bytes>* slow = nullptr,
                             std::vector<Bytes>* handshakes = nullptr) {
  std::vector<rte_mbuf*> in;
  for (const Bytes& f : frames) in.push_back(mbuf_of(f));
  std::vector<rte_mbuf*> to_bridge(in.size()), to_hs(in.size()), to_slow(in.size());
  const dp::DecapResult r =
      dp::decap_burst(b.ctx, *b.state, in.data(), static_cast<std::uint16_t>(in.size()),
                      to_bridge.data(), to_hs.data(), to_slow.data());
  detail::keep_and_free(to_bridge.data(), r.to_bridge, bridge);
  detail::keep_and_free(to_hs.data(), r.to_handshake, handshakes);
  detail::keep_and_free(to_slow.data(), r.to_slow_path, slow);
  return r;
}

}  // namespace strait::test
