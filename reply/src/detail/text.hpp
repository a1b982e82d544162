#pragma once
// Small byte-level text helpers shared by the template loader and the composer.

#include <cstddef>
#include <string>
#include <string_view>

namespace supportd::reply::detail {

/// Length of the valid UTF-8 sequence starting at `pos` (1..4), or 0 if the bytes there are not
/// a well-formed sequence (RFC 3629 §4: no overlongs, no surrogates, nothing above U+10FFFF).
[[nodiscard]] std::size_t utf8_sequence_length(std::string_view s, std::size_t pos);

/// True if `s` is entirely well-formed UTF-8.
[[nodiscard]] bool is_valid_utf8(std::string_view s);

/// `s` with every ill-formed byte replaced by U+FFFD, so it can be labelled charset=utf-8.
[[nodiscard]] std::string repair_utf8(std::string_view s);

/// True if every byte is below 0x80.
[[nodiscard]] bool is_ascii(std::string_view s);

/// "\r\n" and lone "\r" become "\n".
[[nodiscard]] std::string normalize_newlines(std::string_view s);

}  // namespace supportd::reply::detail
