#include "core/key_base64.hpp"

#include <sodium.h>

namespace strait::wg {

namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

constexpr std::size_t kBase64KeyLen = 44;  // sodium_base64_ENCODED_LEN(32, ORIGINAL) - 1

}  // namespace

std::optional<Key> key_from_base64(std::string_view text, std::string* why, KeyText kind) {
  auto refuse = [&](std::string sentence) -> std::optional<Key> {
    if (why != nullptr) *why = std::move(sentence);
    return std::nullopt;
  };
  if (text.size() != kBase64KeyLen || text.back() != '=') {
    return refuse("expected 44 base64 characters ending in '=' as written by `wg genkey`, found " +
                  std::to_string(text.size()) + " characters");
  }
  Key key{};
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(key.data(), key.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) == 0 &&
      len == key.size() && end == text.data() + text.size()) {
    return key;
  }
  sodium_memzero(key.data(), key.size());  // may be a private key's first bytes
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    if (!is_base64_char(text[i])) {
      const std::string shown =
          kind == KeyText::secret ? std::string() : " ('" + std::string(1, text[i]) + "')";
      return refuse("character " + std::to_string(i + 1) + shown + " is not base64");
    }
  }
  return refuse(
      "the last base64 character has non-zero padding bits (not a key `wg genkey` wrote)");
}

std::string key_to_base64(const Key& key) {
  char out[sodium_base64_ENCODED_LEN(kKeyLen, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(out, sizeof(out), key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string text(out);
  sodium_memzero(out, sizeof(out));
  return text;
}

}  // namespace strait::wg
