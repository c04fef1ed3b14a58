#include "emulated_peer.hpp"

#include <cstring>
#include <stdexcept>

#include "uapi/model.hpp"

namespace strait::pktgen {

EmulatedPeer::EmulatedPeer(const BenchConfig& config, std::size_t index,
                           const dp::MacAddr& wire_mac, rte_mempool* pool, wg::RandomSource& rng,
                           wg::Time now)
    : config_(config),
      index_(static_cast<std::uint32_t>(index)),
      port_(static_cast<std::uint16_t>(config.port_base + index)),
      inner_ip_(config.peers[index].inner_ip),
      pool_(pool),
      device_(rng, aead_) {
  uapi::DeviceChange change;
  change.private_key = config.peers[index].private_key;
  change.listen_port = port_;
  uapi::PeerChange dut;
  dut.public_key = config.dut_public_key;
  dut.endpoint = uapi::Endpoint::v4(config.dut_ip, config.dut_port);
  dut.allowed_ips.push_back(*IpPrefix::parse("0.0.0.0/0"));
  dut.cipher = config.cipher;
  change.peers.push_back(dut);
  if (auto applied = device_.apply(change, now); !applied) {
    throw std::runtime_error("peer configuration: " + applied.error().message);
  }
  dut_ = *device_.peer_id(config.dut_public_key);

  // The outer headers of every frame we send: our wire MAC and address, the DUT as next hop.
  dp::OuterTemplateConfig c;
  c.src_mac = wire_mac;
  c.dst_mac = config.dut_mac;
  c.src_addr = dp::ipv4_mapped(config.local_ip.data());
  c.dst_addr = dp::ipv4_mapped(config.dut_ip.data());
  c.dst_port_be = dp::cpu_to_be16(config.dut_port);
  outer_ = dp::OuterTemplate(c);
  rebuild();
}

std::string EmulatedPeer::public_key_hex() const {
  return uapi::key_to_hex(device_.identity().public_key);
}

void EmulatedPeer::start_handshake(wg::Time now) {
  device_.note_handshake_wanted(dut_, now);
  tick(now);
}

void EmulatedPeer::receive(std::span<const std::uint8_t> udp_payload, const uapi::Endpoint& from,
                           wg::Time now) {
  device_.receive(udp_payload, from, now, *this);
  if (dirty_) rebuild();
}

void EmulatedPeer::tick(wg::Time now) {
  if (activity_.handshake_wanted.exchange(false, std::memory_order_relaxed))
    device_.note_handshake_wanted(dut_, now);
  if (auto d = device_.next_deadline(); d && *d <= now) device_.tick(now, *this);
  if (dirty_) rebuild();
}

bool EmulatedPeer::has_session() const {
  const dp::PeerSlot* slot = state_->peer_slot(dut_);
  return slot != nullptr && slot->current != nullptr;
}

// A handshake message (or cookie reply) in our outer headers, from our UDP port.
void EmulatedPeer::send_datagram(const uapi::Endpoint&, std::span<const std::uint8_t> bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return;  // the Device retransmits (REKEY_TIMEOUT)
  const std::uint32_t hdr = outer_.header_len();
  auto* p = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_append(m, static_cast<std::uint16_t>(hdr + bytes.size())));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(p + hdr, bytes.data(), bytes.size());
  outer_.write(p, static_cast<std::uint32_t>(bytes.size()), dp::cpu_to_be16(port_));
  pending_.push_back(m);
}

// straitd's republish for one peer: routes, our port as the tunnel port (the decap filter and
// the encap source port), the DUT's slot with its outer template and sessions.
void EmulatedPeer::rebuild() {
  dirty_ = false;
  dp::BridgeL2 l2;  // decap output stays inside the generator: any MAC will do
  dp::ForwardingStateBuilder b;
  b.routes(device_.allowed_ips()).tunnel(dp::cpu_to_be16(port_), 9000).bridge(l2);
  std::map<const wg::Keypair*, std::shared_ptr<dp::PreparedKeypair>> used;
  auto use = [&](const std::shared_ptr<wg::Keypair>& kp) {
    auto it = prepared_.find(kp.get());
    auto p = it != prepared_.end() ? it->second : dp::prepare_keypair(aead_, kp);
    used.emplace(kp.get(), p);
    return p;
  };
  device_.for_each_peer([&](const wg::PeerView& v) {
    b.peer(v.id, v.cipher, activity_, nullptr);
    b.endpoint(v.id, outer_);
    if (const auto& cur = v.keypairs.shared_current()) b.current(v.id, use(cur));
    if (const auto& prev = v.keypairs.shared_previous()) b.session(v.id, use(prev), false);
    if (const auto& next = v.keypairs.shared_next()) b.session(v.id, use(next), true);
  });
  state_ = b.build();
  prepared_.swap(used);
}

}  // namespace strait::pktgen
