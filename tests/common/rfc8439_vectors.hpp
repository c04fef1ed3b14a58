#pragma once
// RFC 8439 appendix A.5, the ChaCha20-Poly1305 decryption example, in one place for the tests
// that check it (the primitive in primitives_test, the burst engine in aead_burst_test). Hex
// strings as printed in the RFC; the nonce is in WireGuard's layout (4 zero bytes || LE64
// counter 0x0807060504030201).

#include <string_view>

namespace strait::test::rfc8439_a5 {

inline constexpr std::string_view kKeyHex =
    "1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0";
inline constexpr std::string_view kNonceHex = "000000000102030405060708";
inline constexpr std::string_view kAadHex = "f33388860000000000004e91";
inline constexpr std::string_view kCiphertextHex =
    "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2"
    "4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf"
    "332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855"
    "9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4"
    "b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e"
    "af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a"
    "0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10"
    "49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29"
    "a6ad5cb4022b02709b";
inline constexpr std::string_view kTagHex = "eead9d67890cbb22392336fea1851f38";
// 265 bytes, ending in UTF-8 curly quotes (E2 80 9C / E2 80 9D) as printed in the RFC.
inline constexpr std::string_view kPlaintext =
    "Internet-Drafts are draft documents valid for a maximum of six months and may be "
    "updated, replaced, or obsoleted by other documents at any time. It is inappropriate to "
    "use Internet-Drafts as reference material or to cite them other than as /"
    "\xe2\x80\x9c"
    "work in progress./"
    "\xe2\x80\x9d";

}  // namespace strait::test::rfc8439_a5
