#pragma once
// Text helpers shared by rule loading and classification.

#include <cstddef>
#include <string>
#include <string_view>

namespace supportd::classifier::detail {

/// normalize() writing into a caller-owned buffer, so the hot path can reuse its capacity.
void normalize_into(std::string_view utf8, std::string& out);

/// What detect_language() counts in a text: Han characters and letters of other scripts.
struct script_counts {
  std::size_t han = 0;
  std::size_t latin = 0;
};

/// normalize_into() that also adds the text's characters to `counts`, as detect_language()
/// counts them, when it can do so on the way (it returns true); false when `counts` was left
/// incomplete and detect_language() must count.
bool normalize_and_count(std::string_view utf8, std::string& out, script_counts& counts);

/// "zh" or "en" from detect_language()'s counts.
[[nodiscard]] std::string language_of(const script_counts& counts);

/// normalize_into() by ICU alone, the reference its character-by-character path must match
/// (for tests).
void normalize_with_icu_into(std::string_view utf8, std::string& out);

/// Whether a byte is an ASCII letter or digit: the characters an English word is made of.
[[nodiscard]] constexpr bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace supportd::classifier::detail
