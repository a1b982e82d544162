#pragma once
// Charset conversion internals shared by header and body decoding.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::mime::detail {

/// Result of converting text: UTF-8 plus the charset actually used (label or guess).
struct converted_text {
  std::string text;
  std::string charset;  // canonical lower-case name of what was used ("gb18030", "utf-8", ...)
  bool label_known = true;  // false when the label was unknown and the text was guessed
  bool relabelled = false;  // true when the label did not fit the bytes and a guess won
};

/// Converts `bytes` labelled `label` (may be empty = unlabelled) to UTF-8, reporting the charset
/// used. Never fails: unknown labels fall back to guessing, bad bytes become U+FFFD.
converted_text convert_to_utf8(std::string_view bytes, std::string_view label);

/// Guesses the charset of unlabelled bytes and converts them to UTF-8.
converted_text guess_to_utf8(std::string_view bytes);

/// True when `bytes` is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates).
bool is_valid_utf8(std::string_view bytes) noexcept;

/// True when every byte is 7-bit.
bool is_ascii(std::string_view bytes) noexcept;

/// Length of the leading run of 7-bit bytes.
std::size_t ascii_prefix(std::string_view bytes) noexcept;

/// Lower-cases ASCII letters in place.
void ascii_lower(std::string& s) noexcept;

/// Case-insensitive ASCII equality (inline: header lookups call it for every field).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// Case-insensitive ASCII prefix test.
inline bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

/// Trims ASCII whitespace on both ends.
std::string_view trim(std::string_view s) noexcept;

/// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void truncate_utf8(std::string& s, std::size_t max) noexcept;

/// Appends the UTF-8 encoding of code point `cp` (invalid ones become U+FFFD).
void append_utf8(std::string& out, char32_t cp);

}  // namespace supportd::mime::detail
