#include "pipeline/encap_stage.hpp"

#include <rte_ring.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "core/messages.hpp"
#include "core/transport_codec.hpp"
#include "packet/inner_parse.hpp"
#include "packet/tcp_mss.hpp"
#include "pipeline/path_mtu.hpp"
#include "pipeline/stage_common.hpp"

namespace strait::dp {
namespace {

// Whether m, whose data is `lead` bytes of headers to remove followed by a len-byte inner
// packet, can grow into a transport message in place (the stages never chain segments).
bool has_room(const rte_mbuf* m, std::uint32_t lead, std::uint32_t len, std::uint32_t padded,
              const PeerSlot& slot) noexcept {
  return rte_pktmbuf_tailroom(m) >= padded - len + kTagLen &&
         rte_pktmbuf_headroom(m) + lead >= wg::kDataHeaderLen + slot.outer.header_len();
}

// Grows m, whose data is exactly the len-byte plaintext, into the frame of its transport
// message (room for the padding and the tag behind, for the header in front) and returns where
// the message starts, for the codec to frame and seal (wg::frame_seal).
std::uint8_t* grow_for_message(rte_mbuf* m, std::uint32_t len, std::uint32_t padded) noexcept {
  // has_room() guaranteed the room, so neither call can fail.
  (void)rte_pktmbuf_append(m, static_cast<std::uint16_t>(padded - len + kTagLen));
  return reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, wg::kDataHeaderLen));
}

// Folds n bytes into h (64-bit multiply-xorshift; not cryptographic: an attacker who picks
// inner flows to pile onto one port only steers his own packets to one receive queue).
std::uint64_t mix_bytes(std::uint64_t h, const std::uint8_t* p, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p + i, std::min<std::size_t>(8, n - i));
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  return h;
}

// IANA protocol numbers of SCTP (RFC 4960) and UDP-Lite (RFC 3828): ports first, as TCP/UDP.
constexpr std::uint8_t kIpProtoSctp = 132;
constexpr std::uint8_t kIpProtoUdpLite = 136;

bool has_ports(std::uint8_t protocol) noexcept {
  return protocol == kIpProtoTcp || protocol == kIpProtoUdp || protocol == kIpProtoSctp ||
         protocol == kIpProtoUdpLite;
}

}  // namespace

std::uint16_t flow_source_port(const std::uint8_t* ip, const InnerInfo& inner) noexcept {
  std::uint64_t h = mix_bytes(0x5354524149540001ULL, inner.src_addr.data(), inner.src_addr.size());
  h = mix_bytes(h, inner.dst_addr.data(), inner.dst_addr.size());
  // Fragments after the first carry no L4 header, so no fragment uses the ports: all pieces of
  // one datagram then share a port and stay in order with each other.
  bool fragment = false;
  if (!inner.is_ipv6) {
    fragment = (load_header<Ipv4Hdr>(ip).frag_off_be & kIpv4FragmentMaskBe) != 0;
  }
  std::uint8_t tail[5] = {inner.protocol, 0, 0, 0, 0};
  if (!fragment && has_ports(inner.protocol) && inner.ip_len >= inner.header_len + 4U) {
    std::memcpy(tail + 1, ip + inner.header_len, 4);  // source and destination port
  }
  h = mix_bytes(h, tail, sizeof tail);
  // The top 14 bits select a port in 49152-65535 (RFC 6335 section 6, the dynamic range).
  return cpu_to_be16(static_cast<std::uint16_t>(kFlowPortFirst + (h >> 50)));
}

namespace {

// The outer source port of one message: per flow towards AES-256-GCM (straitd) peers, the
// tunnel port towards WireGuard (ChaCha20-Poly1305) peers (docs/STRAITD.md, "Outer source
// ports").
std::uint16_t outer_source_port(const ForwardingState& state, Cipher cipher,
                                std::uint16_t flow_port_be) noexcept {
  return cipher == Cipher::aes256_gcm ? flow_port_be : state.tunnel_port_be;
}

// Puts the peer's outer headers in front of a sealed message, from source port src_port_be
// (the tunnel port, or a flow port: outer_source_port).
void add_outer(rte_mbuf* m, const PeerSlot& slot, std::uint16_t src_port_be) noexcept {
  const std::uint32_t msg_len = rte_pktmbuf_data_len(m);
  auto* p = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_prepend(m, static_cast<std::uint16_t>(slot.outer.header_len())));
  slot.outer.write(p, msg_len, src_port_be);
  // Nothing the bridge NIC said about the inner frame applies to the outer one.
  m->ol_flags = 0;
  m->packet_type = 0;
}

void flush_activity(stage::ActivityTally& tally, std::int64_t now_ns) noexcept {
  for (const stage::Activity& a : tally) {
    PeerActivity& pa = *a.peer;
    pa.counters.tx_packets.fetch_add(a.packets, std::memory_order_relaxed);
    pa.counters.tx_bytes.fetch_add(a.bytes, std::memory_order_relaxed);
    pa.last_tx_ns.store(now_ns, std::memory_order_relaxed);
    if (a.data) pa.last_tx_data_ns.store(now_ns, std::memory_order_relaxed);
  }
}

// A packet that passed every per-packet check and waits for its nonce.
struct PendingSeal {
  rte_mbuf* m;
  const PeerSlot* slot;
  std::uint32_t len;     // inner IP length (m's data is exactly that now)
  std::uint32_t padded;  // plaintext length after padding
  std::uint16_t group;
  std::uint16_t src_port_be;  // outer UDP source port
};

// The packets of one peer in one burst: one nonce reservation for all of them.
struct PeerGroup {
  const PeerSlot* slot;
  std::uint32_t count;
  std::uint64_t next_counter;
  bool reserved;
  wg::Keypair* kp;  // chosen once per burst by send_keypair
};

// The keypair to send with: `next` once data authenticated on it (PeerSlot::next), else
// `current`.
inline wg::Keypair* send_keypair(const PeerSlot& s) noexcept {
  if (s.next != nullptr && s.next_confirmed != nullptr &&
      s.next_confirmed->load(std::memory_order_relaxed))
    return s.next;
  return s.current;
}

// Hands a packet without a usable keypair to its peer's staging ring, as an inner IP packet,
// within the limit on staged packets over all peers (StagingBudget).
void stage_packet(StageContext& ctx, const ForwardingState& state, const PeerSlot& slot,
                  rte_mbuf* m, EncapResult& r) noexcept {
  stage::raise(slot.activity->handshake_wanted);
  if (slot.staging == nullptr) {
    stage::drop(ctx, m, DropReason::no_keypair);
    return;
  }
  StagingBudget* budget = state.staging_budget;
  if (budget != nullptr && !budget->try_take()) {
    stage::drop(ctx, m, DropReason::staged_limit);
    return;
  }
  rte_pktmbuf_adj(m, kEthHdrLen);
  if (rte_ring_mp_enqueue(slot.staging, m) == 0) {
    ++r.staged;
  } else {
    if (budget != nullptr) budget->give_back(1);
    stage::drop(ctx, m, DropReason::no_keypair);
  }
}

bool is_neighbor_solicitation(const std::uint8_t* ip, const InnerInfo& inner) noexcept {
  return inner.is_ipv6 && inner.protocol == kIpProtoIcmpv6 && inner.ip_len > kIpv6HdrLen &&
         ip[kIpv6HdrLen] == kIcmpv6NeighborSolicitation;
}

// The fragments of one encap_burst call, encapsulated after its input (as a chunk of their
// own, so that the per-chunk scratch arrays keep their size).
struct FragmentQueue {
  rte_mbuf* m[kEncapFragmentRoom];
  std::uint16_t n = 0;
};

// Where packets that do not fit the tunnel go besides the bin (null: nowhere, drop too_big).
struct TooBigSinks {
  rte_mbuf** bridge = nullptr;     // ICMP errors back to their senders
  FragmentQueue* frags = nullptr;  // fragments of IPv4 packets without DF
};

// An inner packet longer than the tunnel MTU (DESIGN.md section 4; docs/STRAITD.md, "Path
// MTU"): IPv4 without DF is fragmented, the rest answered with ICMP "fragmentation needed" /
// ICMPv6 "packet too big" towards its sender when the rules and this lcore's rate limit allow
// (counted as too_big_icmp), else dropped (too_big).
void handle_too_big(StageContext& ctx, const ForwardingState& state, rte_mbuf* m,
                    const std::uint8_t* ip, const InnerInfo& inner, const TooBigSinks& sinks,
                    EncapResult& r) noexcept {
  const PathMtuConfig& cfg = state.path_mtu;
  if (sinks.bridge == nullptr) {
    stage::drop(ctx, m, DropReason::too_big);
    return;
  }
  if (!inner.is_ipv6 && (load_header<Ipv4Hdr>(ip).frag_off_be & kIpv4FlagDfBe) == 0) {
    FragmentQueue* q = sinks.frags;
    if (!cfg.fragment_ipv4 || q == nullptr) {
      stage::drop(ctx, m, DropReason::too_big);
      return;
    }
    const FragmentResult fr = fragment_ipv4(m, inner, state.tunnel_mtu, q->m + q->n,
                                            static_cast<std::uint16_t>(kEncapFragmentRoom - q->n));
    if (fr.why != DropReason::none) {
      stage::drop(ctx, m, fr.why);
      return;
    }
    q->n = static_cast<std::uint16_t>(q->n + fr.count);
    ++r.fragmented;
    rte_pktmbuf_free(m);
    return;
  }
  if (!may_answer_too_big(ip, inner, cfg) || !ctx.icmp_limit.allow(ctx.now_ns) ||
      !build_too_big_reply(m, inner, cfg, state.tunnel_mtu, state.bridge.src_mac)) {
    stage::drop(ctx, m, DropReason::too_big);
    return;
  }
  count_drop(*ctx.counters, DropReason::too_big_icmp);
  sinks.bridge[r.to_bridge++] = m;
}

void encap_chunk(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts, std::uint16_t n,
                 rte_mbuf** out_wire, rte_mbuf** out_slow, const TooBigSinks& sinks,
                 EncapResult& r) noexcept {
  const wg::Time now(ctx.now_ns);
  stage::Scratch<PendingSeal, kStageChunk> pending;
  stage::Scratch<PeerGroup, kStageChunk> groups;
  std::uint16_t n_pending = 0;
  std::uint16_t n_groups = 0;

  // Phase 1: per-packet checks, grouping by peer. In passes over the burst, each starting the
  // memory reads the next one needs for every packet (routes -> peer slot -> keypair, send
  // counter and key, activity block), so that with many peers and routes the cache misses of
  // the burst's packets overlap instead of queueing (perf/README.md, "Where the cycles go").
  struct Routed {
    rte_mbuf* m;
    std::uint8_t* ip;
    const PeerSlot* slot;
    std::uint32_t frame_len;
    InnerInfo inner;
  };
  stage::Scratch<Routed, kStageChunk> routed;
  stage::RouteBatch routes;  // lane j: routed[j]'s destination
  const bool far = state.prefetch_peers();
  std::uint16_t n_parsed = 0;
  // 1a: the bridge frame and its inner packet; its destination goes into the route batch.
  for (std::uint16_t i = 0; i < n; ++i) {
    stage::prefetch_data(pkts, i, n);
    rte_mbuf* m = pkts[i];
    if (m->nb_segs != 1) {
      stage::drop(ctx, m, DropReason::unsupported_mbuf);
      continue;
    }
    std::uint8_t* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
    const std::uint32_t frame_len = rte_pktmbuf_data_len(m);
    if (frame_len < kEthHdrLen) {
      stage::drop(ctx, m, DropReason::bridge_not_ip);
      continue;
    }
    const std::uint16_t ether_type = load_header<EthHdr>(frame).ether_type_be;
    if (ether_type == kEtherTypeArpBe) {
      out_slow[r.to_slow_path++] = m;
      continue;
    }
    if (ether_type != kEtherTypeIpv4Be && ether_type != kEtherTypeIpv6Be) {
      stage::drop(ctx, m, DropReason::bridge_not_ip);
      continue;
    }
    std::uint8_t* ip = frame + kEthHdrLen;
    Routed& p = routed.emplace(n_parsed);
    InnerInfo& inner = p.inner;
    if (parse_inner(ip, frame_len - kEthHdrLen, inner) != DropReason::none || inner.is_keepalive ||
        inner.is_ipv6 != (ether_type == kEtherTypeIpv6Be)) {
      stage::drop(ctx, m, DropReason::inner_bad_ip);
      continue;
    }
    if (is_neighbor_solicitation(ip, inner)) {
      out_slow[r.to_slow_path++] = m;
      continue;
    }
    (void)routes.add(inner.is_ipv6, inner.dst_ip());
    p.m = m;
    p.ip = ip;
    p.frame_len = frame_len;
    ++n_parsed;
  }
  // 1b: the routes, all at once; the peer slots. A peer id is known before its slot is read:
  // the slot's lines are on their way while the next packets are routed.
  routes.resolve(*state.routes);
  std::uint16_t n_routed = 0;
  for (std::uint16_t j = 0; j < n_parsed; ++j) {
    const auto peer = routes.peer(j);
    const PeerSlot* slot = peer ? state.peer_slot(*peer) : nullptr;
    if (slot == nullptr) {
      stage::drop(ctx, routed[j].m, DropReason::no_route);
      continue;
    }
    if (far) state.prefetch_peer(*peer);
    Routed& p = routed[n_routed++];
    if (&p != &routed[j]) p = routed[j];
    p.slot = slot;
  }
  // 1c: the keypair each packet will be sealed with, its counter and key; the activity block.
  for (std::uint16_t j = 0; far && j < n_routed; ++j) {
    const PeerSlot& slot = *routed[j].slot;
    if (const wg::Keypair* kp = send_keypair(slot)) kp->prefetch_for_seal();
    __builtin_prefetch(slot.activity, 1);
  }
  // 1d: the checks that read them, grouping by peer.
  for (std::uint16_t j = 0; j < n_routed; ++j) {
    Routed& p = routed[j];
    rte_mbuf* m = p.m;
    std::uint8_t* ip = p.ip;
    const InnerInfo& inner = p.inner;
    const PeerSlot* slot = p.slot;
    const std::uint32_t frame_len = p.frame_len;
    // No outer headers yet (the endpoint's next-hop MAC is being resolved, or no endpoint is
    // known) but no keypair either: the packet is staged below like any packet waiting for a
    // handshake, as the Linux module queues it, rather than lost; the slow path holds the
    // initiation until the MAC is known, and expires what waits REKEY_ATTEMPT_TIME.
    if (!slot->has_endpoint && slot->current != nullptr) {
      stage::drop(ctx, m, DropReason::no_endpoint);
      continue;
    }
    if (inner.ip_len > state.tunnel_mtu) {
      handle_too_big(ctx, state, m, ip, inner, sinks, r);
      continue;
    }
    const std::uint16_t mss =
        inner.is_ipv6 ? state.path_mtu.mss_clamp_v6 : state.path_mtu.mss_clamp_v4;
    if (mss != 0) (void)clamp_tcp_mss(ip, inner, mss);
    // Ethernet minimum-size padding is not part of the packet.
    rte_pktmbuf_trim(m, static_cast<std::uint16_t>(frame_len - kEthHdrLen - inner.ip_len));
    const std::uint32_t padded = wg::padded_len(inner.ip_len, state.tunnel_mtu);
    if (!has_room(m, kEthHdrLen, inner.ip_len, padded, *slot)) {
      stage::drop(ctx, m, DropReason::unsupported_mbuf);
      continue;
    }
    wg::Keypair* kp = send_keypair(*slot);
    if (kp == nullptr || !kp->valid_for_send(now)) {
      stage_packet(ctx, state, *slot, m, r);
      continue;
    }
    std::uint16_t g = 0;
    while (g < n_groups && groups[g].slot != slot) ++g;
    if (g == n_groups) groups.emplace(n_groups++) = PeerGroup{slot, 0, 0, false, kp};
    ++groups[g].count;
    rte_pktmbuf_adj(m, kEthHdrLen);
    const std::uint16_t sport = outer_source_port(state, kp->cipher, flow_source_port(ip, inner));
    pending.emplace(n_pending++) = PendingSeal{m, slot, inner.ip_len, padded, g, sport};
  }
  if (n_pending == 0) return;

  // Phase 2: one nonce reservation per peer (an atomic shared by every lcore sending to it).
  for (std::uint16_t g = 0; g < n_groups; ++g) {
    PeerGroup& pg = groups[g];
    wg::Keypair& kp = *pg.kp;
    const auto first = kp.reserve_counters(pg.count);
    pg.reserved = first.has_value();
    pg.next_counter = first.value_or(0);
    // The send-side rekey rule (paper section 6.2): ask for a new session, keep sending.
    if (!pg.reserved || kp.needs_rekey(now)) stage::raise(pg.slot->activity->handshake_wanted);
  }

  // Phase 3: frame every message, then one AEAD call for the whole burst.
  stage::Scratch<crypto::AeadOp, kStageChunk> ops;
  stage::Scratch<const PeerSlot*, kStageChunk> op_slot;
  stage::Scratch<rte_mbuf*, kStageChunk> op_mbuf;
  stage::Scratch<std::uint16_t, kStageChunk> op_sport;
  std::uint16_t n_ops = 0;
  for (std::uint16_t j = 0; j < n_pending; ++j) {
    const PendingSeal& p = pending[j];
    PeerGroup& pg = groups[p.group];
    if (!pg.reserved) {
      stage::drop(ctx, p.m, DropReason::no_keypair);
      continue;
    }
    wg::frame_seal(grow_for_message(p.m, p.len, p.padded), p.len, p.padded, *pg.kp,
                   pg.next_counter++, ops.emplace(n_ops));
    op_slot.emplace(n_ops) = p.slot;
    op_mbuf.emplace(n_ops) = p.m;
    op_sport.emplace(n_ops) = p.src_port_be;
    ++n_ops;
  }
  if (n_ops == 0) return;
  ctx.aead->seal_burst(std::span<crypto::AeadOp>(ops.data(), n_ops));

  // Phase 4: outer headers, per-peer activity. A packet the engine did not seal may still be
  // plaintext: it never reaches the wire (its nonce is spent, which the receiver's replay
  // window tolerates as a gap).
  stage::ActivityTally tally;
  for (std::uint16_t k = 0; k < n_ops; ++k) {
    rte_mbuf* m = op_mbuf[k];
    if (!ops[k].ok) [[unlikely]] {
      stage::drop(ctx, m, DropReason::seal_failed);
      continue;
    }
    const PeerSlot& slot = *op_slot[k];
    stage::Activity& act = tally.of(&slot, slot.activity);
    ++act.packets;
    act.bytes += rte_pktmbuf_data_len(m);
    act.data = true;
    add_outer(m, slot, op_sport[k]);
    out_wire[r.to_wire++] = m;
  }
  flush_activity(tally, ctx.now_ns);
}

}  // namespace

EncapResult encap_burst(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts,
                        std::uint16_t n, rte_mbuf** out_wire, rte_mbuf** out_slow,
                        rte_mbuf** out_bridge) noexcept {
  EncapResult r;
  FragmentQueue frags;
  const TooBigSinks sinks{out_bridge, out_bridge != nullptr ? &frags : nullptr};
  for (std::uint16_t base = 0; base < n; base = static_cast<std::uint16_t>(base + kStageChunk)) {
    const auto count = static_cast<std::uint16_t>(std::min<int>(kStageChunk, n - base));
    encap_chunk(ctx, state, pkts + base, count, out_wire, out_slow, sinks, r);
  }
  // Every fragment fits the MTU, so none of them comes back to the queue.
  static_assert(kEncapFragmentRoom <= kStageChunk);
  if (frags.n != 0) encap_chunk(ctx, state, frags.m, frags.n, out_wire, out_slow, sinks, r);
  return r;
}

EncapResult encap_burst(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts,
                        std::uint16_t n, rte_mbuf** out_wire, rte_mbuf** out_slow) noexcept {
  return encap_burst(ctx, state, pkts, n, out_wire, out_slow, nullptr);
}

DropReason encap_one(StageContext& ctx, const ForwardingState& state, std::uint32_t peer,
                     wg::Keypair& keypair, rte_mbuf* m) noexcept {
  const PeerSlot* slot = state.peer_slot(peer);
  const std::uint32_t len = rte_pktmbuf_data_len(m);
  const std::uint32_t padded = wg::padded_len(len, state.tunnel_mtu);
  DropReason why = DropReason::none;
  if (slot == nullptr) {
    why = DropReason::no_route;
  } else if (!slot->has_endpoint) {
    why = DropReason::no_endpoint;
  } else if (m->nb_segs != 1) {
    why = DropReason::unsupported_mbuf;
  } else if (len > state.tunnel_mtu) {
    why = DropReason::too_big;
  } else if (!has_room(m, 0, len, padded, *slot)) {
    why = DropReason::unsupported_mbuf;
  }
  if (why != DropReason::none) {
    stage::drop(ctx, m, why);
    return why;
  }
  // A staged packet keeps its flow's port; a keepalive (no flow) goes from the tunnel port.
  std::uint16_t flow_port_be = state.tunnel_port_be;
  InnerInfo inner;
  const auto* ip = rte_pktmbuf_mtod(m, const std::uint8_t*);
  if (len != 0 && parse_inner(ip, len, inner) == DropReason::none) {
    flow_port_be = flow_source_port(ip, inner);
  }
  const std::uint16_t sport = outer_source_port(state, keypair.cipher, flow_port_be);
  why = wg::seal_one(*ctx.aead, keypair, grow_for_message(m, len, padded), len, padded,
                     wg::Time(ctx.now_ns));
  if (why != DropReason::none) {
    stage::drop(ctx, m, why);
    return why;
  }
  stage::ActivityTally tally;
  stage::Activity& act = tally.of(slot, slot->activity);
  act.packets = 1;
  act.bytes = rte_pktmbuf_data_len(m);
  act.data = len != 0;  // a keepalive is not data (Linux send.c: no wg_timers_data_sent)
  add_outer(m, *slot, sport);
  flush_activity(tally, ctx.now_ns);
  return DropReason::none;
}

}  // namespace strait::dp
