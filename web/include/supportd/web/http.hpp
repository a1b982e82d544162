#pragma once
// Plain HTTP request and response values: the handler works on these, so it is tested with
// strings and no socket; the server converts to and from Boost.Beast messages.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace supportd::web {

struct request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin-form, e.g. "/threads/3?x=1" (RFC 9112 §3.2.1)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The first header with this name (ASCII case-insensitive, RFC 9110 §5.1), "" when absent.
  [[nodiscard]] std::string header(std::string_view name) const;
};

struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  /// The first header with this name (case-insensitive), "" when absent.
  [[nodiscard]] std::string header(std::string_view name) const;
};

}  // namespace supportd::web
