#pragma once
// One WireGuard peer played by strait-pktgen against the device under test (DUT): the
// project's sans-I/O wg::Device makes the real handshakes (WireGuard paper section 5) over the
// generator's DPDK wire port, and its sessions are turned into a ForwardingState, exactly as
// straitd's slow path does it (dataplane/straitd/slow_path.cpp, republish), so that the
// pipeline's own encap_burst and decap_burst seal and open the transport data.
//
// Threads: strait-pktgen runs on one lcore; every call here is made from it. A rebuilt
// ForwardingState replaces the previous one between bursts, so no RCU is needed.

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "bench_config.hpp"
#include "crypto/aead_burst.hpp"
#include "device/device.hpp"
#include "packet/outer_template.hpp"
#include "pipeline/forwarding_state.hpp"

namespace strait::pktgen {

class EmulatedPeer final : private wg::DeviceIo {
 public:
  // Configures the Device: our private key and UDP port, the DUT as its only peer (endpoint
  // dut_ip:dut_port, allowed IPs 0.0.0.0/0, the bench cipher). Throws std::runtime_error
  // when the Device refuses the configuration.
  EmulatedPeer(const BenchConfig& config, std::size_t index, const dp::MacAddr& wire_mac,
               rte_mempool* pool, wg::RandomSource& rng, wg::Time now);

  // Asks for a handshake now (the Device sends the initiation on its next tick).
  void start_handshake(wg::Time now);
  // A UDP payload addressed to our port (a handshake response or cookie reply from the DUT).
  void receive(std::span<const std::uint8_t> udp_payload, const uapi::Endpoint& from, wg::Time now);
  // Timers, handshake requests raised by the encap stage (rekey rule), and a snapshot rebuild
  // after any session change.
  void tick(wg::Time now);
  // Frames the Device produced (handshake messages) waiting for wire TX; the caller takes them.
  [[nodiscard]] std::vector<rte_mbuf*>& pending_frames() { return pending_; }

  // True once a current keypair exists for sending to the DUT.
  [[nodiscard]] bool has_session() const;
  [[nodiscard]] const dp::ForwardingState& state() const { return *state_; }
  [[nodiscard]] std::uint16_t udp_port() const { return port_; }
  [[nodiscard]] const std::array<std::uint8_t, 4>& inner_ip() const { return inner_ip_; }
  [[nodiscard]] std::uint32_t index() const { return index_; }
  [[nodiscard]] std::string public_key_hex() const;

 private:
  // wg::DeviceIo
  void send_datagram(const uapi::Endpoint& to, std::span<const std::uint8_t> bytes) override;
  void deliver(wg::PeerId, std::span<const std::uint8_t>) override {}
  void on_session_changed(wg::PeerId) override { dirty_ = true; }

  void rebuild();

  const BenchConfig& config_;
  std::uint32_t index_;
  std::uint16_t port_;
  std::array<std::uint8_t, 4> inner_ip_;
  rte_mempool* pool_;
  // Prepares the keys of the Device's sessions and seals its keepalives; the probes' stages
  // use the caller's engine.
  crypto::AeadEngine aead_;
  wg::Device device_;
  wg::PeerId dut_ = 0;
  dp::OuterTemplate outer_;
  dp::PeerActivity activity_;
  std::map<const wg::Keypair*, std::shared_ptr<dp::PreparedKeypair>> prepared_;
  std::unique_ptr<const dp::ForwardingState> state_;
  std::vector<rte_mbuf*> pending_;
  bool dirty_ = true;
};

}  // namespace strait::pktgen
