// mac1/mac2 and cookie replies (WireGuard paper sections 5.3, 5.4.4, 5.4.7; Linux cookie.c).
#include "core/cookie.hpp"

#include <algorithm>

#include "crypto/primitives.hpp"

namespace strait::wg {

namespace {

// mac1 and mac2 are the last 32 bytes of both handshake message types.
constexpr std::size_t kMacsLen = 2 * kMacLen;

// MAC(key, input) = keyed BLAKE2s with 16-byte output (paper 5.4).
Mac mac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input) {
  Mac out{};
  crypto::blake2s(out, input, key);
  return out;
}

// "birth + age <= now" as in Linux's wg_birthdate_has_expired.
bool expired(Time birth, Time age, Time now) { return birth + age <= now; }

}  // namespace

const char* describe(MacVerdict v) {
  switch (v) {
    case MacVerdict::invalid_mac1: return "mac1 does not verify";
    case MacVerdict::valid_mac1_no_mac2: return "mac1 valid, mac2 not required";
    case MacVerdict::valid_mac2: return "mac1 and mac2 valid";
    case MacVerdict::invalid_mac2: return "under load and mac2 missing or invalid";
  }
  return "unknown mac verdict";
}

const char* describe(CookieReplyError e) {
  switch (e) {
    case CookieReplyError::ok: return "ok";
    case CookieReplyError::no_mac1_sent: return "cookie reply answers nothing we sent";
    case CookieReplyError::decrypt_failed: return "cookie reply does not decrypt";
  }
  return "unknown cookie reply error";
}

// ---- CookieChecker ----

CookieChecker::~CookieChecker() { wipe_secret(secret_); }

void CookieChecker::set_identity(const StaticIdentity& local) {
  mac1_key_ = local.mac1_key;
  cookie_key_ = local.cookie_key;
}

Mac CookieChecker::cookie_for(std::span<const std::uint8_t> source, Time now, RandomSource& rng) {
  if (!has_secret_ || expired(secret_birth_, kCookieSecretMaxAge, now)) {
    rng.fill(secret_);
    secret_birth_ = now;
    has_secret_ = true;
  }
  return mac(secret_, source);
}

MacVerdict CookieChecker::check(std::span<const std::uint8_t> msg,
                                std::span<const std::uint8_t> source, bool under_load, Time now,
                                RandomSource& rng) {
  if (msg.size() < kMacsLen) return MacVerdict::invalid_mac1;
  const std::size_t mac1_at = msg.size() - kMacsLen;
  const std::size_t mac2_at = mac1_at + kMacLen;

  const Mac mac1 = mac(mac1_key_, msg.first(mac1_at));
  if (!crypto::equal_ct(mac1, msg.subspan(mac1_at, kMacLen))) return MacVerdict::invalid_mac1;
  if (!under_load) return MacVerdict::valid_mac1_no_mac2;

  Mac cookie = cookie_for(source, now, rng);
  const Mac mac2 = mac(cookie, msg.first(mac2_at));
  wipe_secret(cookie);
  return crypto::equal_ct(mac2, msg.subspan(mac2_at, kMacLen)) ? MacVerdict::valid_mac2
                                                               : MacVerdict::invalid_mac2;
}

bool CookieChecker::make_reply(MessageCookieReply& out, std::span<const std::uint8_t> msg,
                               std::span<const std::uint8_t> source, Time now, RandomSource& rng) {
  if (msg.size() < kMacsLen) return false;
  out = MessageCookieReply{};
  // Both handshake types carry their sender index at offset 4.
  std::copy_n(msg.begin() + 4, 4, out.receiver.bytes.begin());
  rng.fill(out.nonce);
  Mac cookie = cookie_for(source, now, rng);
  crypto::xchacha20poly1305_seal(out.encrypted_cookie, cookie,
                                 msg.subspan(msg.size() - kMacsLen, kMacLen), out.nonce,
                                 cookie_key_);
  wipe_secret(cookie);
  return true;
}

// ---- CookieMaker ----

CookieMaker::~CookieMaker() { wipe_secret(cookie_); }

void CookieMaker::set_remote(const Key& remote_static) {
  mac1_key_ = mac1_key_for(remote_static);
  cookie_key_ = cookie_key_for(remote_static);
  wipe_secret(cookie_);
  has_cookie_ = false;
  has_sent_mac1_ = false;
}

bool CookieMaker::has_fresh_cookie(Time now) const {
  return has_cookie_ && !expired(cookie_birth_, kCookieSecretMaxAge - kCookieSecretLatency, now);
}

void CookieMaker::add_macs(std::span<std::uint8_t> msg, Time now) {
  if (msg.size() < kMacsLen) return;
  const std::size_t mac1_at = msg.size() - kMacsLen;
  const std::size_t mac2_at = mac1_at + kMacLen;

  last_mac1_sent_ = mac(mac1_key_, msg.first(mac1_at));
  has_sent_mac1_ = true;
  std::copy(last_mac1_sent_.begin(), last_mac1_sent_.end(), msg.begin() + mac1_at);

  Mac mac2{};
  if (has_fresh_cookie(now)) mac2 = mac(cookie_, msg.first(mac2_at));
  std::copy(mac2.begin(), mac2.end(), msg.begin() + mac2_at);
}

void CookieMaker::add_macs(MessageInitiation& msg, Time now) {
  add_macs(mutable_bytes_of(msg), now);
}

void CookieMaker::add_macs(MessageResponse& msg, Time now) { add_macs(mutable_bytes_of(msg), now); }

CookieReplyError CookieMaker::consume_reply(const MessageCookieReply& reply, Time now) {
  if (!has_sent_mac1_) return CookieReplyError::no_mac1_sent;
  Mac cookie{};
  if (!crypto::xchacha20poly1305_open(cookie, reply.encrypted_cookie, last_mac1_sent_, reply.nonce,
                                      cookie_key_)) {
    return CookieReplyError::decrypt_failed;
  }
  cookie_ = cookie;
  wipe_secret(cookie);
  cookie_birth_ = now;
  has_cookie_ = true;
  has_sent_mac1_ = false;
  return CookieReplyError::ok;
}

}  // namespace strait::wg
