// Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s as WireGuard uses it (paper section 5.4; the step
// comments below follow https://www.wireguard.com/protocol/). Every operation works on local
// copies of the symmetric state and commits to the Handshake only when it has succeeded, so a
// forged message never disturbs a handshake in progress.
#include "core/noise.hpp"

#include <string_view>

#include "crypto/primitives.hpp"

namespace strait::wg {

namespace {

constexpr std::string_view kConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
constexpr std::string_view kLabelMac1 = "mac1----";
constexpr std::string_view kLabelCookie = "cookie--";

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// HASH(a || b), BLAKE2s-256.
Hash hash2(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  crypto::Blake2s h(kHashLen);
  h.update(a);
  h.update(b);
  Hash out{};
  h.final(out);
  return out;
}

// The initial chaining key HASH(CONSTRUCTION) and hash HASH(ck || IDENTIFIER); constants.
struct InitialState {
  Key chaining_key{};
  Hash hash{};
};

const InitialState& initial_state() {
  static const InitialState s = [] {
    InitialState r;
    crypto::blake2s(r.chaining_key, as_bytes(kConstruction));
    r.hash = hash2(r.chaining_key, as_bytes(kIdentifier));
    return r;
  }();
  return s;
}

// The symmetric state of one handshake in progress.
struct Symmetric {
  Hash hash{};
  Key chaining_key{};

  // h = HASH(h0 || responder_static), ck = ck0.
  explicit Symmetric(const Key& responder_static) {
    chaining_key = initial_state().chaining_key;
    hash = hash2(initial_state().hash, responder_static);
  }
  Symmetric(const Hash& h, const Key& ck) : hash(h), chaining_key(ck) {}
  ~Symmetric() {
    wipe_secret(hash);
    wipe_secret(chaining_key);
  }
  Symmetric(const Symmetric&) = delete;
  Symmetric& operator=(const Symmetric&) = delete;

  void mix_hash(std::span<const std::uint8_t> data) { hash = hash2(hash, data); }

  // ck = KDF1(ck, input). Outputs go to temporaries: kdf() is not promised to allow aliasing.
  void mix_key(std::span<const std::uint8_t> input) {
    Key ck{};
    crypto::kdf(ck, {}, {}, chaining_key, input);
    chaining_key = ck;
    wipe_secret(ck);
  }

  // ck, key = KDF2(ck, input).
  void mix_key2(std::span<const std::uint8_t> input, Key& key) {
    Key ck{};
    crypto::kdf(ck, key, {}, chaining_key, input);
    chaining_key = ck;
    wipe_secret(ck);
  }

  // ck, key = KDF2(ck, DH(priv, pub)) (or KDF1 when key is null). False on a low-order point.
  [[nodiscard]] bool mix_dh(const Key& priv, const Key& pub, Key* key) {
    Key dh{};
    if (!crypto::x25519(dh, priv, pub)) {
      wipe_secret(dh);
      return false;
    }
    if (key != nullptr) {
      mix_key2(dh, *key);
    } else {
      mix_key(dh);
    }
    wipe_secret(dh);
    return true;
  }

  // ck, tau, key = KDF3(ck, psk); h = HASH(h || tau)  (the "psk2" of IKpsk2, paper 5.4.3).
  void mix_psk(const Key& psk, Key& key) {
    Key ck{};
    Key tau{};
    crypto::kdf(ck, tau, key, chaining_key, psk);
    chaining_key = ck;
    mix_hash(tau);
    wipe_secret(ck);
    wipe_secret(tau);
  }

  // dst = AEAD(key, 0, plain, h); h = HASH(h || dst).
  void seal(std::span<std::uint8_t> dst, std::span<const std::uint8_t> plain, const Key& key) {
    crypto::chacha20poly1305_seal(dst, plain, hash, 0, key);
    mix_hash(dst);
  }

  [[nodiscard]] bool open(std::span<std::uint8_t> dst, std::span<const std::uint8_t> sealed,
                          const Key& key) {
    if (!crypto::chacha20poly1305_open(dst, sealed, hash, 0, key)) return false;
    mix_hash(sealed);
    return true;
  }

  // T_send, T_recv = KDF2(ck, e) from the initiator's point of view (paper 5.4.5).
  void derive_transport(SessionKeys& keys, bool initiator) {
    Key first{};
    Key second{};
    crypto::kdf(first, second, {}, chaining_key, {});
    keys.send_key = initiator ? first : second;
    keys.recv_key = initiator ? second : first;
    wipe_secret(first);
    wipe_secret(second);
  }
};

// An X25519 private key from the injected RNG, clamped (RFC 7748 section 5).
void generate_private(Key& priv, RandomSource& rng) {
  rng.fill(priv);
  priv[0] &= 248;
  priv[31] &= 127;
  priv[31] |= 64;
}

bool is_zero(const Key& k) {
  static constexpr Key kZero{};
  return crypto::equal_ct(k, kZero);
}

}  // namespace

void SystemRandom::fill(std::span<std::uint8_t> out) { crypto::random_bytes(out); }

Key mac1_key_for(const Key& public_key) { return hash2(as_bytes(kLabelMac1), public_key); }

Key cookie_key_for(const Key& public_key) { return hash2(as_bytes(kLabelCookie), public_key); }

StaticIdentity StaticIdentity::from_private(const Key& private_key) {
  StaticIdentity id;
  if (is_zero(private_key)) return id;
  id.private_key = private_key;
  id.private_key[0] &= 248;
  id.private_key[31] &= 127;
  id.private_key[31] |= 64;
  crypto::x25519_public(id.public_key, id.private_key);
  id.mac1_key = mac1_key_for(id.public_key);
  id.cookie_key = cookie_key_for(id.public_key);
  return id;
}

bool StaticIdentity::has_key() const { return !is_zero(private_key); }

void StaticIdentity::clear() {
  wipe_secret(private_key);
  public_key = {};
  mac1_key = {};
  cookie_key = {};
}

void PendingInitiation::clear() {
  wipe_secret(hash);
  wipe_secret(chaining_key);
  initiator_static = {};
  initiator_ephemeral = {};
  encrypted_timestamp = {};
  initiator_index = 0;
}

const char* describe(HandshakeError e) {
  switch (e) {
    case HandshakeError::ok: return "ok";
    case HandshakeError::no_private_key: return "no local private key configured";
    case HandshakeError::bad_remote_static: return "peer's static key is a low-order point";
    case HandshakeError::low_order_point: return "ephemeral key is a low-order point";
    case HandshakeError::decrypt_static_failed: return "initiation static key does not decrypt";
    case HandshakeError::decrypt_timestamp_failed: return "initiation timestamp does not decrypt";
    case HandshakeError::decrypt_response_failed: return "response does not authenticate";
    case HandshakeError::wrong_peer: return "initiation is from another peer";
    case HandshakeError::replayed_timestamp: return "initiation timestamp not newer (replay)";
    case HandshakeError::initiation_flood: return "initiations from this peer too frequent";
    case HandshakeError::wrong_state: return "message not expected in this handshake state";
    case HandshakeError::wrong_index: return "response answers no initiation of ours";
  }
  return "unknown handshake error";
}

HandshakeResult<PendingInitiation> decrypt_initiation_static(const StaticIdentity& local,
                                                             const MessageInitiation& msg) {
  HandshakeResult<PendingInitiation> r;
  if (!local.has_key()) {
    r.error = HandshakeError::no_private_key;
    return r;
  }
  Symmetric s(local.public_key);
  s.mix_hash(msg.ephemeral);
  s.mix_key(msg.ephemeral);
  Key key{};
  if (!s.mix_dh(local.private_key, msg.ephemeral, &key)) {
    r.error = HandshakeError::low_order_point;
    return r;
  }
  const bool opened = s.open(r.value.initiator_static, msg.encrypted_static, key);
  wipe_secret(key);
  if (!opened) {
    r.value.clear();
    r.error = HandshakeError::decrypt_static_failed;
    return r;
  }
  r.value.initiator_index = msg.sender.get();
  r.value.initiator_ephemeral = msg.ephemeral;
  r.value.hash = s.hash;
  r.value.chaining_key = s.chaining_key;
  r.value.encrypted_timestamp = msg.encrypted_timestamp;
  return r;
}

Handshake::Handshake(const StaticIdentity& local, const Key& remote_static, const Key& psk) {
  configure(local, remote_static, psk);
}

Handshake::~Handshake() {
  zero_secrets();
  wipe_secret(precomputed_static_static_);
  wipe_secret(preshared_key_);
}

void Handshake::configure(const StaticIdentity& local, const Key& remote_static, const Key& psk) {
  if (remote_static != remote_static_) {
    latest_timestamp_ = {};
    has_consumed_initiation_ = false;
  }
  clear();
  remote_static_ = remote_static;
  preshared_key_ = psk;
  local_has_key_ = local.has_key();
  static_static_ok_ = local_has_key_ &&
                      crypto::x25519(precomputed_static_static_, local.private_key, remote_static);
  if (!static_static_ok_) wipe_secret(precomputed_static_static_);
}

void Handshake::set_preshared_key(const Key& psk) { preshared_key_ = psk; }

HandshakeError Handshake::usable() const {
  if (!local_has_key_) return HandshakeError::no_private_key;
  if (!static_static_ok_) return HandshakeError::bad_remote_static;
  return HandshakeError::ok;
}

void Handshake::zero_secrets() {
  wipe_secret(hash_);
  wipe_secret(chaining_key_);
  wipe_secret(ephemeral_private_);
  remote_ephemeral_ = {};
}

void Handshake::clear() {
  zero_secrets();
  local_index_ = 0;
  remote_index_ = 0;
  state_ = State::zeroed;
}

HandshakeError Handshake::create_initiation(MessageInitiation& out, const StaticIdentity& local,
                                            std::uint32_t local_index, const Tai64n& now_ts,
                                            RandomSource& rng) {
  if (const HandshakeError e = usable(); e != HandshakeError::ok) return e;
  clear();

  Symmetric s(remote_static_);
  Key ephemeral{};
  generate_private(ephemeral, rng);

  out = MessageInitiation{};
  out.sender.set(local_index);
  crypto::x25519_public(out.ephemeral, ephemeral);
  s.mix_hash(out.ephemeral);
  s.mix_key(out.ephemeral);

  // es
  Key key{};
  if (!s.mix_dh(ephemeral, remote_static_, &key)) {
    wipe_secret(ephemeral);
    return HandshakeError::bad_remote_static;
  }
  s.seal(out.encrypted_static, local.public_key, key);

  // ss, precomputed
  s.mix_key2(precomputed_static_static_, key);
  s.seal(out.encrypted_timestamp, now_ts, key);
  wipe_secret(key);

  hash_ = s.hash;
  chaining_key_ = s.chaining_key;
  ephemeral_private_ = ephemeral;
  wipe_secret(ephemeral);
  local_index_ = local_index;
  state_ = State::created_initiation;
  return HandshakeError::ok;
}

HandshakeResult<SessionKeys> Handshake::consume_response(const MessageResponse& msg,
                                                         const StaticIdentity& local) {
  HandshakeResult<SessionKeys> r;
  if (const HandshakeError e = usable(); e != HandshakeError::ok) {
    r.error = e;
    return r;
  }
  if (state_ != State::created_initiation) {
    r.error = HandshakeError::wrong_state;
    return r;
  }
  if (msg.receiver.get() != local_index_) {
    r.error = HandshakeError::wrong_index;
    return r;
  }

  Symmetric s(hash_, chaining_key_);
  s.mix_hash(msg.ephemeral);
  s.mix_key(msg.ephemeral);
  // ee, se
  if (!s.mix_dh(ephemeral_private_, msg.ephemeral, nullptr) ||
      !s.mix_dh(local.private_key, msg.ephemeral, nullptr)) {
    r.error = HandshakeError::low_order_point;
    return r;
  }
  Key key{};
  s.mix_psk(preshared_key_, key);
  std::array<std::uint8_t, 0> nothing{};
  const bool opened = s.open(nothing, msg.encrypted_nothing, key);
  wipe_secret(key);
  if (!opened) {
    r.error = HandshakeError::decrypt_response_failed;
    return r;
  }

  s.derive_transport(r.value, /*initiator=*/true);
  r.value.local_index = local_index_;
  r.value.remote_index = msg.sender.get();
  r.value.we_initiated = true;
  state_ = State::consumed_response;
  clear();
  return r;
}

HandshakeError Handshake::accept_initiation(const PendingInitiation& pending, Time now) {
  if (const HandshakeError e = usable(); e != HandshakeError::ok) return e;
  if (!crypto::equal_ct(pending.initiator_static, remote_static_))
    return HandshakeError::wrong_peer;

  Symmetric s(pending.hash, pending.chaining_key);
  Key key{};
  s.mix_key2(precomputed_static_static_, key);  // ss
  Tai64n timestamp{};
  const bool opened = s.open(timestamp, pending.encrypted_timestamp, key);
  wipe_secret(key);
  if (!opened) return HandshakeError::decrypt_timestamp_failed;

  // Paper 5.1: a replayed initiation must not make us drop the current session, hence the
  // strictly increasing timestamp; and at most kInitiationsPerSecond per peer (Linux noise.c).
  if (!tai64n_after(timestamp, latest_timestamp_)) return HandshakeError::replayed_timestamp;
  if (has_consumed_initiation_ && last_initiation_consumption_ + kInitiationMinInterval > now) {
    return HandshakeError::initiation_flood;
  }

  clear();
  hash_ = s.hash;
  chaining_key_ = s.chaining_key;
  remote_ephemeral_ = pending.initiator_ephemeral;
  remote_index_ = pending.initiator_index;
  latest_timestamp_ = timestamp;
  last_initiation_consumption_ = now;
  has_consumed_initiation_ = true;
  state_ = State::consumed_initiation;
  return HandshakeError::ok;
}

HandshakeResult<SessionKeys> Handshake::create_response(MessageResponse& out,
                                                        std::uint32_t local_index,
                                                        RandomSource& rng) {
  HandshakeResult<SessionKeys> r;
  if (const HandshakeError e = usable(); e != HandshakeError::ok) {
    r.error = e;
    return r;
  }
  if (state_ != State::consumed_initiation) {
    r.error = HandshakeError::wrong_state;
    return r;
  }

  Symmetric s(hash_, chaining_key_);
  Key ephemeral{};
  generate_private(ephemeral, rng);

  out = MessageResponse{};
  out.sender.set(local_index);
  out.receiver.set(remote_index_);
  crypto::x25519_public(out.ephemeral, ephemeral);
  s.mix_hash(out.ephemeral);
  s.mix_key(out.ephemeral);
  // ee, se. Both points were checked before (the initiator's ephemeral by
  // decrypt_initiation_static, its static by configure()), so these only fail on a bug.
  const bool dh_ok = s.mix_dh(ephemeral, remote_ephemeral_, nullptr) &&
                     s.mix_dh(ephemeral, remote_static_, nullptr);
  wipe_secret(ephemeral);
  if (!dh_ok) {
    out = MessageResponse{};
    r.error = HandshakeError::low_order_point;
    return r;
  }
  Key key{};
  s.mix_psk(preshared_key_, key);
  s.seal(out.encrypted_nothing, {}, key);
  wipe_secret(key);

  s.derive_transport(r.value, /*initiator=*/false);
  r.value.local_index = local_index;
  r.value.remote_index = remote_index_;
  r.value.we_initiated = false;
  state_ = State::created_response;
  clear();
  return r;
}

}  // namespace strait::wg
