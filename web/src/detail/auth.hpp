#pragma once
// Token check, browser sessions and CSRF tokens, all keyed by HMAC-SHA256 so nothing secret is
// stored and every comparison takes the same time whatever the input.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace supportd::web::detail {

/// HMAC-SHA256 of `data` under `key`, as 64 lower-case hex digits.
[[nodiscard]] std::string hmac_hex(std::string_view key, std::string_view data);
/// Lower-case hex of bytes.
[[nodiscard]] std::string to_hex(std::string_view bytes);
/// Whether `given` equals `token`, in time independent of where they differ (and of lengths:
/// both are hashed under `secret` first).
[[nodiscard]] bool token_matches(std::string_view given, std::string_view token,
                                 std::string_view secret);

/// The key of sessions: changes when the token or the process secret changes, which logs
/// every browser out.
[[nodiscard]] std::string session_key(std::string_view token, std::string_view secret);
/// A session cookie value for agent `name` issued at `now`: "<issued>.<hex name>.<mac>".
[[nodiscard]] std::string make_session(std::string_view key, std::string_view name,
                                       std::int64_t now);
/// The agent name of a valid, unexpired session cookie value.
[[nodiscard]] std::optional<std::string> check_session(std::string_view key,
                                                       std::string_view cookie, std::int64_t now,
                                                       std::int64_t lifetime);
/// The CSRF token bound to one session cookie value.
[[nodiscard]] std::string csrf_token(std::string_view key, std::string_view cookie);
/// Constant-time equality of two strings of possibly different length.
[[nodiscard]] bool same(std::string_view a, std::string_view b);

}  // namespace supportd::web::detail
