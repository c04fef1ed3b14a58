#pragma once
// The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (WireGuard paper section 5.4,
// https://www.wireguard.com/protocol/). Sans-I/O: no clock, no sockets, randomness injected.
//
// Initiator:  Handshake::create_initiation -> (CookieMaker::add_macs, send)
//             ... Handshake::consume_response -> SessionKeys
// Responder:  (CookieChecker::check) -> decrypt_initiation_static(identity, msg) -> look the
//             peer up by PendingInitiation::initiator_static -> peer's Handshake::accept_initiation
//             -> Handshake::create_response -> (CookieMaker::add_macs, send) and SessionKeys
//
// Not for the fast path: everything here runs on the slow-path thread, which owns every
// Handshake and the StaticIdentity. No exceptions, no allocation; every failure is a
// HandshakeError.

#include <cstdint>
#include <span>

#include "core/messages.hpp"
#include "core/tai64n.hpp"
#include "core/types.hpp"

namespace strait::wg {

// Source of randomness for ephemeral keys and cookie secrets and nonces. Injected so tests are
// deterministic; production uses SystemRandom.
class RandomSource {
 public:
  virtual void fill(std::span<std::uint8_t> out) = 0;

 protected:
  ~RandomSource() = default;
};

// crypto::random_bytes (libsodium's CSPRNG).
class SystemRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override;
};

// HASH(LABEL_MAC1 || public_key): the key of mac1 on messages sent TO the owner of public_key.
[[nodiscard]] Key mac1_key_for(const Key& public_key);
// HASH(LABEL_COOKIE || public_key): the key of cookie replies sent BY the owner of public_key.
[[nodiscard]] Key cookie_key_for(const Key& public_key);

// Our long-term identity (one per device). Secrets are zeroed on destruction.
struct StaticIdentity {
  Key private_key{};
  Key public_key{};
  Key mac1_key{};    // mac1_key_for(public_key): verifies mac1 of incoming handshake messages
  Key cookie_key{};  // cookie_key_for(public_key): seals the cookie replies we send

  // Derives the rest from a private key (clamped here, RFC 7748 section 5). An all-zero
  // private key means "no key configured": public_key stays zero and has_key() is false.
  [[nodiscard]] static StaticIdentity from_private(const Key& private_key);
  [[nodiscard]] bool has_key() const;
  void clear();

  StaticIdentity() = default;
  StaticIdentity(const StaticIdentity&) = default;
  StaticIdentity& operator=(const StaticIdentity&) = default;
  ~StaticIdentity() { clear(); }
};

enum class HandshakeError : std::uint8_t {
  ok = 0,
  no_private_key,     // our StaticIdentity has no key
  bad_remote_static,  // the peer's static key is low order: static-static DH is zero
  low_order_point,    // an ephemeral gave an all-zero DH result (paper section 5.4, RFC 7748 6.1)
  decrypt_static_failed,     // initiation: encrypted_static does not authenticate
  decrypt_timestamp_failed,  // initiation: encrypted_timestamp does not authenticate
  decrypt_response_failed,   // response: encrypted_nothing does not authenticate
  wrong_peer,          // the pending initiation names another static key than this Handshake's
  replayed_timestamp,  // timestamp not greater than the last accepted one (paper section 5.1)
  initiation_flood,    // less than 1 s / kInitiationsPerSecond since the last accepted initiation
  wrong_state,         // message arrived when this Handshake does not expect it
  wrong_index,         // response's receiver index is not the index of our pending initiation
};

[[nodiscard]] const char* describe(HandshakeError e);

// Linux's INITIATIONS_PER_SECOND: a responder accepts at most one initiation per peer every
// 1 s / 50 = 20 ms (Linux noise.c, wg_noise_handshake_consume_initiation).
inline constexpr std::uint32_t kInitiationsPerSecond = 50;
inline constexpr Time kInitiationMinInterval =
    std::chrono::nanoseconds(1'000'000'000 / kInitiationsPerSecond);

template <class T>
struct HandshakeResult {
  T value{};
  HandshakeError error = HandshakeError::ok;
  [[nodiscard]] bool ok() const { return error == HandshakeError::ok; }
};

// The responder's state after decrypting an initiation's static key with our identity, before
// the peer is known (paper 5.4.2, up to msg.encrypted_static). Secrets are zeroed on destruction.
struct PendingInitiation {
  Key initiator_static{};  // look the peer up by this
  std::uint32_t initiator_index = 0;
  Key initiator_ephemeral{};
  Hash hash{};
  Key chaining_key{};
  std::array<std::uint8_t, kTimestampLen + kTagLen> encrypted_timestamp{};

  void clear();
  PendingInitiation() = default;
  PendingInitiation(const PendingInitiation&) = default;
  PendingInitiation& operator=(const PendingInitiation&) = default;
  ~PendingInitiation() { clear(); }
};

// Responder, step 1: decrypts the initiator's static key. Rejects a missing identity,
// a low-order ephemeral and a static key that does not authenticate. mac1/mac2 must have been
// checked before (CookieChecker), since this costs an X25519.
[[nodiscard]] HandshakeResult<PendingInitiation> decrypt_initiation_static(
    const StaticIdentity& local, const MessageInitiation& msg);

// The handshake with one peer. Owned by the slow-path thread.
class Handshake {
 public:
  enum class State : std::uint8_t {
    zeroed,
    created_initiation,
    consumed_initiation,
    created_response,   // transient: create_response returns keys and zeroes back
    consumed_response,  // transient: consume_response returns keys and zeroes back
  };

  Handshake() = default;
  // Precomputes DH(our static, their static) (paper 5.4.2 "ss"). remote_static low order or no
  // local key makes every later operation fail with bad_remote_static / no_private_key.
  // psk all zero means no pre-shared key (paper 5.2, Q = 0^32).
  Handshake(const StaticIdentity& local, const Key& remote_static, const Key& psk);
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;
  ~Handshake();

  // Re-derives the precomputed DH after our private key or the peer's key changed; forgets any
  // handshake in progress but keeps the replay timestamp if remote_static is unchanged.
  void configure(const StaticIdentity& local, const Key& remote_static, const Key& psk);
  void set_preshared_key(const Key& psk);

  // Initiator, paper 5.4.2. `local` must be the identity given to configure(). Fills everything
  // but mac1/mac2 (CookieMaker::add_macs does those) and moves to created_initiation.
  [[nodiscard]] HandshakeError create_initiation(MessageInitiation& out,
                                                 const StaticIdentity& local,
                                                 std::uint32_t local_index, const Tai64n& now_ts,
                                                 RandomSource& rng);

  // Initiator, paper 5.4.3 and 5.4.5: consumes the response to our pending initiation and
  // returns the transport keys (we_initiated = true). Zeroes the handshake state on success;
  // on failure the pending initiation stays so a genuine response can still arrive.
  [[nodiscard]] HandshakeResult<SessionKeys> consume_response(const MessageResponse& msg,
                                                              const StaticIdentity& local);

  // Responder, step 2, paper 5.4.2 (rest) and 5.1: decrypts the timestamp with the precomputed
  // DH and the PSK context, refuses a timestamp not newer than the last accepted one and an
  // initiation less than kInitiationMinInterval after the last accepted one (`now` is
  // monotonic), then adopts the pending state (consumed_initiation).
  [[nodiscard]] HandshakeError accept_initiation(const PendingInitiation& pending, Time now);

  // Responder, paper 5.4.3 and 5.4.5: answers the accepted initiation and returns the transport
  // keys (we_initiated = false). Fills everything but mac1/mac2. Zeroes the handshake state.
  [[nodiscard]] HandshakeResult<SessionKeys> create_response(MessageResponse& out,
                                                             std::uint32_t local_index,
                                                             RandomSource& rng);

  // Forgets the handshake in progress (ephemeral, hash, chaining key, indices); keeps the
  // configuration, the last accepted timestamp and the flood-check time.
  void clear();

  [[nodiscard]] State state() const { return state_; }
  [[nodiscard]] const Key& remote_static() const { return remote_static_; }
  [[nodiscard]] std::uint32_t local_index() const { return local_index_; }
  [[nodiscard]] std::uint32_t remote_index() const { return remote_index_; }
  [[nodiscard]] const Tai64n& latest_timestamp() const { return latest_timestamp_; }

 private:
  [[nodiscard]] HandshakeError usable() const;
  void zero_secrets();

  Key remote_static_{};
  Key precomputed_static_static_{};
  Key preshared_key_{};
  bool static_static_ok_ = false;
  bool local_has_key_ = false;

  State state_ = State::zeroed;
  Hash hash_{};
  Key chaining_key_{};
  Key ephemeral_private_{};
  Key remote_ephemeral_{};
  std::uint32_t local_index_ = 0;
  std::uint32_t remote_index_ = 0;

  Tai64n latest_timestamp_{};
  bool has_consumed_initiation_ = false;
  Time last_initiation_consumption_{};
};

}  // namespace strait::wg
