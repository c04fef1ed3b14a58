#pragma once
// The transport codec: the one code that seals and opens a WireGuard transport data message
// (paper section 5.4.6). The burst stages (pipeline/), encap_one on the slow path and the
// Device's software transport (device/) all frame, seal and open through it; only the I/O
// around it differs (mbufs in bursts, or one buffer).
//
// A message is header (16 bytes: type by cipher, reserved zero, receiver index, counter; see
// messages.hpp), the plaintext padded with zeros to a multiple of 16 (never past the tunnel
// MTU), and the 16-byte tag. The AEAD runs in place over spans; the engine is the caller's
// (crypto/aead_burst.hpp), so a burst of messages is framed here one by one and sealed or
// opened by one engine call.
//
// Opening checks run in a fixed order, each with its drop reason:
//   before the AEAD (check_open): cipher (the type byte must be the keypair's: never try the
//     other cipher), keypair alive (REJECT_AFTER_TIME, limits), replay pre-check;
//   the AEAD itself: authenticate (auth_failed);
//   after it (finish_open): commit the counter to the replay window (only authentic packets
//     move it: RFC 6479), which can still refuse a duplicate another lcore committed first;
//   then the caller's: the inner packet (packet/inner_parse.hpp) and its source against
//     cryptokey routing (inner_src_not_allowed), which needs the caller's route table.
//
// No allocation, no exceptions; safe on any bytes once classify() accepted them as data.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "base/drop_reason.hpp"
#include "core/keypair.hpp"
#include "core/messages.hpp"
#include "core/types.hpp"
#include "crypto/aead_burst.hpp"

namespace strait::wg {

// The plaintext length after WireGuard's padding (paper section 5.4.6: zeros to a multiple of
// 16), never past the tunnel MTU, as the Linux module's send.c calculate_skb_padding does.
// `mtu` 0 means no MTU (the Device's software transport). len <= mtu is the caller's
// precondition otherwise.
[[nodiscard]] constexpr std::uint32_t padded_len(std::uint32_t len, std::uint32_t mtu) noexcept {
  const std::uint32_t padded = (len + 15U) & ~15U;
  if (mtu == 0) return padded;
  const std::uint32_t cap = mtu > len ? mtu : len;
  return padded < cap ? padded : cap;
}

// The length of the sealed message of a `padded`-byte plaintext.
[[nodiscard]] constexpr std::size_t sealed_len(std::size_t padded) noexcept {
  return kDataHeaderLen + padded + kTagLen;
}

// ---- Sealing

// Frames one message for sealing in place. `msg` points at kDataHeaderLen bytes of room, then
// the `len`-byte plaintext, then at least padded - len + kTagLen more bytes. Writes the header
// (type by the keypair's cipher, receiver = the peer's index, `counter`) and the zero padding,
// and fills `op` so that the engine seals the padded plaintext in place and writes the tag
// behind it. The keypair's AEAD keys must be prepared (Keypair::prepare_aead).
inline void frame_seal(std::uint8_t* msg, std::uint32_t len, std::uint32_t padded,
                       const Keypair& kp, std::uint64_t counter, crypto::AeadOp& op) noexcept {
  std::uint8_t* plain = msg + kDataHeaderLen;
  std::memset(plain + len, 0, padded - len);
  (void)write_data_header({msg, kDataHeaderLen}, kp.cipher, kp.remote_index, counter);
  op.key = &kp.send_aead;
  op.counter = counter;
  op.data = plain;
  op.len = padded;
  op.tag = plain + padded;
}

// One message, start to end: checks that `kp` may send at `now`, reserves one nonce, frames
// and seals. none, or no_keypair (not valid for sending, or no nonce left: a new session is
// needed), or seal_failed (the engine did not seal: the bytes may be plaintext and must never
// be sent). Sizes as frame_seal; the message is sealed_len(padded) bytes from `msg`.
[[nodiscard]] DropReason seal_one(crypto::AeadEngine& engine, Keypair& kp, std::uint8_t* msg,
                                  std::uint32_t len, std::uint32_t padded, Time now) noexcept;

// ---- Opening (the order above)

// The checks before the AEAD, for a message of a type classify() accepted as data and the
// keypair its receiver index names: none, cipher_mismatch, keypair_expired or replay.
// (Inline, as the other per-packet steps: the stages call them for every packet.)
[[nodiscard]] inline DropReason check_open(const Keypair& kp, const std::uint8_t* msg,
                                           Time now) noexcept {
  // The message type names the cipher (DESIGN.md section 3): never try the other one.
  if (msg[0] != data_type_for(kp.cipher)) return DropReason::cipher_mismatch;
  if (!kp.valid_for_receive(now)) return DropReason::keypair_expired;
  if (!kp.check_counter(data_counter(msg))) return DropReason::replay;
  return DropReason::none;
}

// Fills `op` to open the `msg_len`-byte message at `msg` in place with the keypair's receive
// key: afterwards op.data/op.len are the plaintext (padding included) when op.ok.
inline void frame_open(std::uint8_t* msg, std::uint32_t msg_len, const Keypair& kp,
                       crypto::AeadOp& op) noexcept {
  op.key = &kp.recv_aead;
  op.counter = data_counter(msg);
  op.data = msg + kDataHeaderLen;
  op.len = static_cast<std::uint32_t>(msg_len - kDataMinLen);
  op.tag = msg + msg_len - kTagLen;
}

// The checks after the AEAD: none, auth_failed, or replay (the counter was committed by
// another lcore first). Moves the replay window only for an authentic message.
[[nodiscard]] inline DropReason finish_open(Keypair& kp, const crypto::AeadOp& op) noexcept {
  if (!op.ok) return DropReason::auth_failed;
  // Two-phase replay protection (RFC 6479): the window moves only for authentic packets.
  if (!kp.commit_counter(op.counter)) return DropReason::replay;
  return DropReason::none;
}

// One message, start to end (check_open, the engine, finish_open). On none, `plaintext` is
// the decrypted payload, padding included, inside `msg`.
[[nodiscard]] DropReason open_one(crypto::AeadEngine& engine, Keypair& kp,
                                  std::span<std::uint8_t> msg, Time now,
                                  std::span<std::uint8_t>& plaintext) noexcept;

}  // namespace strait::wg
