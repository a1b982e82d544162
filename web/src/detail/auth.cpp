#include "detail/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <limits>

namespace supportd::web::detail {

namespace {
std::string hmac_raw(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  // Inputs are tiny (tokens, cookies), far below INT_MAX.
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc{} || p != hex.data() + i + 2) return std::nullopt;
    out += static_cast<char>(value);
  }
  return out;
}
}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4];
    out += digits[u & 0xF];
  }
  return out;
}

std::string hmac_hex(std::string_view key, std::string_view data) {
  return to_hex(hmac_raw(key, data));
}

bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool token_matches(std::string_view given, std::string_view token, std::string_view secret) {
  if (token.empty()) return false;
  const auto a = hmac_raw(secret, given);
  const auto b = hmac_raw(secret, token);
  return !a.empty() && same(a, b);
}

std::string session_key(std::string_view token, std::string_view secret) {
  return hmac_raw(secret, std::string("supportd session key\n") + std::string(token));
}

std::string make_session(std::string_view key, std::string_view name, std::int64_t now) {
  std::string value = std::to_string(now) + "." + to_hex(name);
  return value + "." + hmac_hex(key, "session\n" + value);
}

std::optional<std::string> check_session(std::string_view key, std::string_view cookie,
                                         std::int64_t now, std::int64_t lifetime) {
  const auto last = cookie.rfind('.');
  if (last == std::string_view::npos) return std::nullopt;
  const auto value = cookie.substr(0, last);
  if (!same(cookie.substr(last + 1), hmac_hex(key, "session\n" + std::string(value)))) {
    return std::nullopt;
  }
  const auto dot = value.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::int64_t issued = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + dot, issued);
  if (ec != std::errc{} || p != value.data() + dot) return std::nullopt;
  if (issued > now + 300 || now - issued > lifetime) return std::nullopt;
  return from_hex(value.substr(dot + 1));
}

std::string csrf_token(std::string_view key, std::string_view cookie) {
  return hmac_hex(key, "csrf\n" + std::string(cookie)).substr(0, 40);
}

}  // namespace supportd::web::detail
