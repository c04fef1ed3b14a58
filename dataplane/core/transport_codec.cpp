// The transport codec (paper section 5.4.6): the one-message paths (the per-packet steps are
// inline in the header).
#include "core/transport_codec.hpp"

namespace strait::wg {

DropReason seal_one(crypto::AeadEngine& engine, Keypair& kp, std::uint8_t* msg, std::uint32_t len,
                    std::uint32_t padded, Time now) noexcept {
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

DropReason open_one(crypto::AeadEngine& engine, Keypair& kp, std::span<std::uint8_t> msg, Time now,
                    std::span<std::uint8_t>& plaintext) noexcept {
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
