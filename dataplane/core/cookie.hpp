#pragma once
// mac1, mac2 and cookie replies: WireGuard's defence against handshake floods (paper sections
// 5.3 and 5.4.4, 5.4.7; https://www.wireguard.com/protocol/#dos-mitigation).
//
//   mac1 = MAC(HASH("mac1----" || responder's static public), msg[0 : offset of mac1])
//   mac2 = MAC(cookie, msg[0 : offset of mac2])  or zeros without a fresh cookie
//   cookie = MAC(secret rotated every kCookieSecretMaxAge, source IP address and port)
//   cookie reply = XAEAD(HASH("cookie--" || responder's static public), random nonce, cookie,
//                        AD = mac1 of the message answered)
// with MAC = keyed BLAKE2s-128. Both handshake message types carry mac1 and mac2 as their last
// 32 bytes, so the functions below work on either through their bytes.
//
// Slow path only, owned by the slow-path thread (the fast path hands handshake messages over).

#include <cstdint>
#include <span>

#include "core/messages.hpp"
#include "core/noise.hpp"
#include "core/types.hpp"

namespace strait::wg {

enum class MacVerdict : std::uint8_t {
  invalid_mac1,        // drop silently (drop reason handshake_bad_mac1)
  valid_mac1_no_mac2,  // not under load: process; mac2 was not looked at
  valid_mac2,          // under load, mac2 carries our current cookie: process (rate limit applies)
  invalid_mac2,        // under load, mac2 missing, stale or wrong: answer with a cookie reply
                       // (drop reason handshake_bad_mac2), do not process
};

[[nodiscard]] const char* describe(MacVerdict v);

enum class CookieReplyError : std::uint8_t {
  ok = 0,
  no_mac1_sent,    // we sent nothing the reply could answer, or already consumed one for it
  decrypt_failed,  // wrong key, nonce or AD (answers another message than our last one)
};

[[nodiscard]] const char* describe(CookieReplyError e);

// Responder side, one per device: checks mac1/mac2 of incoming handshake messages and makes
// cookie replies. `source` is the sender's address as the caller encodes it (IP bytes followed
// by the UDP port bytes, as Linux cookie.c does); only equality matters.
class CookieChecker {
 public:
  CookieChecker() = default;
  explicit CookieChecker(const StaticIdentity& local) { set_identity(local); }
  ~CookieChecker();
  CookieChecker(const CookieChecker&) = delete;
  CookieChecker& operator=(const CookieChecker&) = delete;

  void set_identity(const StaticIdentity& local);

  // msg is a whole initiation or response (>= 32 bytes; shorter gives invalid_mac1).
  // `rng` is only used when the cookie secret must be (re)generated.
  [[nodiscard]] MacVerdict check(std::span<const std::uint8_t> msg,
                                 std::span<const std::uint8_t> source, bool under_load, Time now,
                                 RandomSource& rng);

  // Fills a cookie reply to the message msg (initiation or response, whose mac1 was valid):
  // receiver = msg's sender index, nonce random, encrypted cookie for `source`.
  // False (and out untouched) if msg is shorter than 32 bytes.
  [[nodiscard]] bool make_reply(MessageCookieReply& out, std::span<const std::uint8_t> msg,
                                std::span<const std::uint8_t> source, Time now, RandomSource& rng);

 private:
  Mac cookie_for(std::span<const std::uint8_t> source, Time now, RandomSource& rng);

  Key mac1_key_{};
  Key cookie_key_{};
  Key secret_{};
  Time secret_birth_{};
  bool has_secret_ = false;
};

// Initiator side (and responder side for responses), one per peer: adds mac1/mac2 to the
// handshake messages we send to that peer and takes the cookies it replies with.
class CookieMaker {
 public:
  CookieMaker() = default;
  explicit CookieMaker(const Key& remote_static) { set_remote(remote_static); }
  ~CookieMaker();
  CookieMaker(const CookieMaker&) = delete;
  CookieMaker& operator=(const CookieMaker&) = delete;

  // Derives the peer's mac1 and cookie keys; forgets any cookie.
  void set_remote(const Key& remote_static);

  // Writes mac1, and mac2 if we hold a cookie younger than kCookieSecretMaxAge -
  // kCookieSecretLatency (else zeros). Remembers mac1 for the cookie reply's AD.
  void add_macs(MessageInitiation& msg, Time now);
  void add_macs(MessageResponse& msg, Time now);
  // The same on raw bytes of a handshake message (>= 32 bytes; shorter is left untouched).
  void add_macs(std::span<std::uint8_t> msg, Time now);

  // Decrypts a cookie reply (AD = the mac1 we last sent) and keeps the cookie. A second reply
  // to the same message is refused (no_mac1_sent). The receiver index is the caller's business.
  [[nodiscard]] CookieReplyError consume_reply(const MessageCookieReply& reply, Time now);

  [[nodiscard]] bool has_fresh_cookie(Time now) const;

 private:
  Key mac1_key_{};
  Key cookie_key_{};
  Mac cookie_{};
  Time cookie_birth_{};
  bool has_cookie_ = false;
  Mac last_mac1_sent_{};
  bool has_sent_mac1_ = false;
};

}  // namespace strait::wg
