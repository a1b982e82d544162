#pragma once
// Text helpers shared by rule loading and classification.

#include <string>
#include <string_view>

namespace supportd::classifier::detail {

/// normalize() writing into a caller-owned buffer, so the hot path can reuse its capacity.
void normalize_into(std::string_view utf8, std::string& out);

/// normalize_into() by ICU alone, the reference its character-by-character path must match
/// (for tests).
void normalize_with_icu_into(std::string_view utf8, std::string& out);

/// Whether a byte is an ASCII letter or digit: the characters an English word is made of.
[[nodiscard]] constexpr bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace supportd::classifier::detail
