#pragma once
// application/x-www-form-urlencoded and query strings (WHATWG URL §5.1), cookies (RFC 6265 §5.4).

#include <map>
#include <string>
#include <string_view>

namespace supportd::web::detail {

/// Percent-decodes, with '+' as space; malformed escapes are kept literally.
[[nodiscard]] std::string url_decode(std::string_view s);
/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
[[nodiscard]] std::string url_encode(std::string_view s);
/// Name/value pairs of a form body or query; the first occurrence of a name wins.
[[nodiscard]] std::map<std::string, std::string> parse_form(std::string_view s);
/// The value of one cookie in a Cookie header, "" when absent.
[[nodiscard]] std::string cookie_value(std::string_view header, std::string_view name);
/// ASCII case-insensitive equality.
[[nodiscard]] bool iequals(std::string_view a, std::string_view b);

}  // namespace supportd::web::detail
