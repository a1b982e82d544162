#pragma once
// The only translation unit that sees kainjow mustache (see mustache.cpp for why).

#include <expected>
#include <string>
#include <utility>
#include <vector>

namespace supportd::reply::detail {

/// kainjow's parse error for `source` ("... at <byte offset>"), or empty when it parses.
[[nodiscard]] std::string mustache_syntax_error(const std::string& source);

/// Renders `source` with string variables, values inserted verbatim (plain text, no HTML
/// escaping); an empty value is false in sections. Parses a private copy each call: kainjow mutates
/// its tree and error state while rendering, so one shared object would not be safe across threads.
[[nodiscard]] std::expected<std::string, std::string> render_mustache(
    const std::string& source, const std::vector<std::pair<std::string, std::string>>& vars);

}  // namespace supportd::reply::detail
