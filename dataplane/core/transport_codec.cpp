// The transport codec (paper section 5.4.6): framing, sealing and opening of data messages.
#include "core/transport_codec.hpp"

#include <cstring>

namespace strait::wg {

void frame_seal(std::uint8_t* msg, std::uint32_t len, std::uint32_t padded, const Keypair& kp,
                std::uint64_t counter, crypto::AeadOp& op) noexcept {
  std::uint8_t* plain = msg + kDataHeaderLen;
  std::memset(plain + len, 0, padded - len);
  (void)write_data_header({msg, kDataHeaderLen}, kp.cipher, kp.remote_index, counter);
  op.key = &kp.send_aead;
  op.counter = counter;
  op.data = plain;
  op.len = padded;
  op.tag = plain + padded;
}

DropReason seal_one(crypto::AeadEngine& engine, Keypair& kp, std::uint8_t* msg,
                    std::uint32_t len, std::uint32_t padded, Time now) noexcept {
  if (!kp.aead_prepared || !kp.valid_for_send(now)) return DropReason::no_keypair;
  const auto counter = kp.reserve_counters(1);
  if (!counter) return DropReason::no_keypair;
  crypto::AeadOp op;
  frame_seal(msg, len, padded, kp, *counter, op);
  engine.seal_burst({&op, 1});
  // A message the engine did not seal may be plaintext; its nonce is spent, which the
  // receiver's replay window tolerates as a gap.
  return op.ok ? DropReason::none : DropReason::seal_failed;
}

DropReason check_open(const Keypair& kp, const std::uint8_t* msg, Time now) noexcept {
  // The message type names the cipher (DESIGN.md section 3): never try the other one.
  if (msg[0] != data_type_for(kp.cipher)) return DropReason::cipher_mismatch;
  if (!kp.valid_for_receive(now)) return DropReason::keypair_expired;
  if (!kp.check_counter(data_counter(msg))) return DropReason::replay;
  return DropReason::none;
}

void frame_open(std::uint8_t* msg, std::uint32_t msg_len, const Keypair& kp,
                crypto::AeadOp& op) noexcept {
  op.key = &kp.recv_aead;
  op.counter = data_counter(msg);
  op.data = msg + kDataHeaderLen;
  op.len = static_cast<std::uint32_t>(msg_len - kDataMinLen);
  op.tag = msg + msg_len - kTagLen;
}

DropReason finish_open(Keypair& kp, const crypto::AeadOp& op) noexcept {
  if (!op.ok) return DropReason::auth_failed;
  // Two-phase replay protection (RFC 6479): the window moves only for authentic packets.
  if (!kp.commit_counter(op.counter)) return DropReason::replay;
  return DropReason::none;
}

DropReason open_one(crypto::AeadEngine& engine, Keypair& kp, std::span<std::uint8_t> msg,
                    Time now, std::span<std::uint8_t>& plaintext) noexcept {
  if (msg.size() < kDataMinLen) return DropReason::msg_bad_length;
  if (!kp.aead_prepared) return DropReason::keypair_expired;  // no keys: no session to open with
  if (const DropReason why = check_open(kp, msg.data(), now); why != DropReason::none) return why;
  crypto::AeadOp op;
  frame_open(msg.data(), static_cast<std::uint32_t>(msg.size()), kp, op);
  engine.open_burst({&op, 1});
  if (const DropReason why = finish_open(kp, op); why != DropReason::none) return why;
  plaintext = {op.data, op.len};
  return DropReason::none;
}

}  // namespace strait::wg
