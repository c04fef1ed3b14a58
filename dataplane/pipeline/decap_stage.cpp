#include "pipeline/decap_stage.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>

#include "core/messages.hpp"
#include "core/transport_codec.hpp"
#include "packet/inner_parse.hpp"
#include "packet/outer_parse.hpp"
#include "packet/tcp_mss.hpp"
#include "pipeline/stage_common.hpp"

namespace strait::dp {
namespace {

// A data message that passed every check before the AEAD.
struct PendingOpen {
  rte_mbuf* m;
  const SessionEntry* session;
  std::uint16_t payload_offset;  // the WireGuard message, from the start of the frame
  std::uint16_t msg_len;         // its length (the UDP payload)
  SourceReport source;           // outer source address and port (roaming)
};

bool is_handshake(wg::MessageType t) noexcept {
  return t == wg::MessageType::initiation || t == wg::MessageType::response ||
         t == wg::MessageType::cookie_reply;
}

// Rewrites an authenticated frame in place into the bridge frame: cut the outer headers and
// the WireGuard header, cut padding and tag (the inner IP length is the truth, paper section
// 5.4.6), and put an Ethernet header in front.
void reframe_for_bridge(rte_mbuf* m, const PendingOpen& p, const InnerInfo& inner,
                        const BridgeL2& l2) noexcept {
  const std::uint32_t keep = p.payload_offset + wg::kDataHeaderLen + inner.ip_len;
  rte_pktmbuf_trim(m, static_cast<std::uint16_t>(rte_pktmbuf_data_len(m) - keep));
  // payload_offset >= 42 (Ethernet, IPv4, UDP), so this leaves exactly room for Ethernet.
  rte_pktmbuf_adj(m,
                  static_cast<std::uint16_t>(p.payload_offset + wg::kDataHeaderLen - kEthHdrLen));
  write_bridge_ethernet(rte_pktmbuf_mtod(m, std::uint8_t*), inner.is_ipv6, inner.dst_ip(), l2);
  // Nothing the wire NIC said about the outer packet applies to the inner one.
  m->ol_flags = 0;
  m->packet_type = 0;
}

void flush_activity(stage::ActivityTally& tally, const ForwardingState& state,
                    std::int64_t now_ns) noexcept {
  for (const stage::Activity& a : tally) {
    PeerActivity& pa = *a.peer;
    if (a.packets != 0) {
      pa.counters.rx_packets.fetch_add(a.packets, std::memory_order_relaxed);
      pa.counters.rx_bytes.fetch_add(a.bytes, std::memory_order_relaxed);
    }
    if (!a.authenticated) continue;
    pa.last_rx_ns.store(now_ns, std::memory_order_relaxed);
    pa.last_source.report(a.source);
    if (a.data) pa.last_rx_data_ns.store(now_ns, std::memory_order_relaxed);
    const SessionEntry& s = *a.session;
    if (s.is_next && s.confirmed != nullptr) stage::raise(*s.confirmed);
    // The receive-side rekey rule (Linux receive.c keep_key_fresh): an initiator whose
    // current session nears REJECT_AFTER_TIME starts a handshake when data arrives.
    const wg::Keypair* cur = state.peers[s.peer].current;
    if (cur != nullptr && cur->needs_rekey_on_receive(wg::Time(now_ns)))
      stage::raise(pa.handshake_wanted);
  }
}

void decap_chunk(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts, std::uint16_t n,
                 rte_mbuf** out_bridge, rte_mbuf** out_handshake, rte_mbuf** out_slow,
                 DecapResult& r) noexcept {
  const wg::Time now(ctx.now_ns);
  stage::Scratch<crypto::AeadOp, kStageChunk> ops;
  stage::Scratch<PendingOpen, kStageChunk> pending;
  std::uint16_t n_ops = 0;

  // Phase 1: classify; everything up to the replay pre-check, no crypto. In three passes over
  // the burst, each starting the memory reads the next one needs for every packet (receiver
  // index -> session slot -> keypair, replay window, key, peer slot), so that with many peers
  // the cache misses of the burst's packets overlap instead of queueing one after the other
  // (perf/README.md, "Where the cycles go").
  struct Arrived {
    rte_mbuf* m;
    std::uint8_t* msg;
    const SessionEntry* session;
    OuterInfo outer;
  };
  stage::Scratch<Arrived, kStageChunk> arrived;
  const bool far = state.prefetch_peers();
  std::uint16_t n_arrived = 0;
  // 1a: outer headers and message type; the session slot of every data message.
  for (std::uint16_t i = 0; i < n; ++i) {
    stage::prefetch_data(pkts, i, n);
    rte_mbuf* m = pkts[i];
    if (m->nb_segs != 1) {
      stage::drop(ctx, m, DropReason::unsupported_mbuf);
      continue;
    }
    std::uint8_t* frame = rte_pktmbuf_mtod(m, std::uint8_t*);
    Arrived& a = arrived.emplace(n_arrived);
    const DropReason why =
        parse_outer(frame, rte_pktmbuf_data_len(m), state.tunnel_port_be, a.outer);
    if (why != DropReason::none) {
      if (state.punt_non_tunnel &&
          (why == DropReason::outer_not_ip || why == DropReason::outer_not_tunnel)) {
        out_slow[r.to_slow_path++] = m;
      } else {
        stage::drop(ctx, m, why);
      }
      continue;
    }
    std::uint8_t* msg = frame + a.outer.payload_offset;
    const wg::Classification c = wg::classify({msg, a.outer.payload_len});
    if (!c.ok()) {
      stage::drop(
          ctx, m,
          wg::is_length_error(c.error) ? DropReason::msg_bad_length : DropReason::msg_bad_type);
      continue;
    }
    if (is_handshake(c.type)) {
      out_handshake[r.to_handshake++] = m;
      continue;
    }
    a.m = m;
    a.msg = msg;
    if (far) state.sessions.prefetch(wg::data_receiver(msg));
    ++n_arrived;
  }
  // 1b: the sessions; the lines of each keypair and peer that 1c, the AEAD and phase 3 read.
  for (std::uint16_t j = 0; j < n_arrived; ++j) {
    Arrived& a = arrived[j];
    a.session = state.sessions.find(wg::data_receiver(a.msg));
    if (a.session == nullptr || !far) continue;
    a.session->keypair->prefetch_for_open(wg::data_counter(a.msg));
    state.prefetch_peer(a.session->peer);
  }
  // 1c: the codec's checks before the AEAD, and the AEAD ops.
  for (std::uint16_t j = 0; j < n_arrived; ++j) {
    const Arrived& a = arrived[j];
    const SessionEntry* s = a.session;
    if (s == nullptr) {
      stage::drop(ctx, a.m, DropReason::unknown_index);
      continue;
    }
    // Cipher, keypair alive, replay pre-check.
    if (const DropReason refused = wg::check_open(*s->keypair, a.msg, now);
        refused != DropReason::none) {
      stage::drop(ctx, a.m, refused);
      continue;
    }
    crypto::AeadOp& op = ops.emplace(n_ops);
    wg::frame_open(a.msg, a.outer.payload_len, *s->keypair, op);
    // AES-256-GCM (straitd) peers send from per-flow ports, which say nothing for roaming
    // (docs/STRAITD.md, "Roaming"): reported as port 0, so that lcores seeing different flows
    // of one peer do not overwrite each other's report on every burst.
    const std::uint16_t src_port =
        s->keypair->cipher == Cipher::aes256_gcm ? 0 : be16_to_cpu(a.outer.src_port_be);
    pending.emplace(n_ops) = PendingOpen{a.m, s, a.outer.payload_offset, a.outer.payload_len,
                                         SourceReport{a.outer.src_addr, src_port, a.outer.is_ipv6}};
    ++n_ops;
  }
  if (n_ops == 0) return;

  // Phase 2: one AEAD call for the whole burst (keys and ciphers may be mixed).
  ctx.aead->open_burst(std::span<crypto::AeadOp>(ops.data(), n_ops));

  // Phase 3: replay commit, inner checks, the sources' routes (all at once), reframing. The
  // peers' activity blocks first (their slots arrived during phase 1).
  for (std::uint16_t j = 0; far && j < n_ops; ++j)
    __builtin_prefetch(state.peers[pending[j].session->peer].activity, 1);
  stage::ActivityTally tally;
  struct Opened {
    std::uint16_t op;  // index into ops and pending
    stage::Activity* act;
    InnerInfo inner;
  };
  stage::Scratch<Opened, kStageChunk> opened;
  stage::RouteBatch sources;  // lane k: opened[k]'s inner source
  std::uint16_t n_opened = 0;
  // 3a: authentic and first, a packet inside.
  for (std::uint16_t j = 0; j < n_ops; ++j) {
    const crypto::AeadOp& op = ops[j];
    const PendingOpen& p = pending[j];
    rte_mbuf* m = p.m;
    // The codec's checks after it: authentic, and first to commit its counter.
    if (const DropReason refused = wg::finish_open(*p.session->keypair, op);
        refused != DropReason::none) {
      stage::drop(ctx, m, refused);
      continue;
    }
    const PeerSlot& slot = state.peers[p.session->peer];
    stage::Activity& act = tally.of(p.session, slot.activity);
    act.session = p.session;
    act.authenticated = true;
    act.source = p.source;  // the burst's last authenticated source wins
    // Parsed in place: the packets that pass are kept by counting them in n_opened.
    Opened& o = opened.emplace(n_opened);
    InnerInfo& inner = o.inner;
    if (parse_inner(op.data, op.len, inner) != DropReason::none) {
      act.data = true;  // authentic data, just not a packet we can forward
      stage::drop(ctx, m, DropReason::inner_bad_ip);
      continue;
    }
    if (inner.is_keepalive) {
      // A keepalive (paper section 6.5) is received traffic but nothing to forward.
      ++act.packets;
      act.bytes += p.msg_len;
      rte_pktmbuf_free(m);
      continue;
    }
    act.data = true;
    (void)sources.add(inner.is_ipv6, inner.src_ip());
    o.op = j;
    o.act = &act;
    ++n_opened;
  }
  // 3b: from an address its peer may use (cryptokey routing), to the bridge.
  sources.resolve(*state.routes);
  for (std::uint16_t k = 0; k < n_opened; ++k) {
    const Opened& o = opened[k];
    const PendingOpen& p = pending[o.op];
    rte_mbuf* m = p.m;
    const auto owner = sources.peer(k);
    if (!owner || *owner != p.session->peer) {
      stage::drop(ctx, m, DropReason::inner_src_not_allowed);
      continue;
    }
    ++o.act->packets;
    o.act->bytes += p.msg_len;
    // TCP MSS clamping of SYN segments from the peer's side (docs/STRAITD.md, "Path MTU").
    const std::uint16_t mss =
        o.inner.is_ipv6 ? state.path_mtu.mss_clamp_v6 : state.path_mtu.mss_clamp_v4;
    if (mss != 0) (void)clamp_tcp_mss(ops[o.op].data, o.inner, mss);
    reframe_for_bridge(m, p, o.inner, state.bridge);
    out_bridge[r.to_bridge++] = m;
  }
  flush_activity(tally, state, ctx.now_ns);
}

}  // namespace

DecapResult decap_burst(StageContext& ctx, const ForwardingState& state, rte_mbuf** pkts,
                        std::uint16_t n, rte_mbuf** out_bridge, rte_mbuf** out_handshake,
                        rte_mbuf** out_slow) noexcept {
  DecapResult r;
  for (std::uint16_t base = 0; base < n; base = static_cast<std::uint16_t>(base + kStageChunk)) {
    const auto count = static_cast<std::uint16_t>(std::min<int>(kStageChunk, n - base));
    decap_chunk(ctx, state, pkts + base, count, out_bridge, out_handshake, out_slow, r);
  }
  return r;
}

}  // namespace strait::dp
