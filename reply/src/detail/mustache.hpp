#pragma once
// The only translation unit that sees kainjow mustache (see mustache.cpp for why).

#include <expected>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace supportd::reply::detail {

/// kainjow's parse error for `source` ("... at <byte offset>"), or empty when it parses.
[[nodiscard]] std::string mustache_syntax_error(const std::string& source);

using mustache_vars = std::vector<std::pair<std::string, std::string>>;

/// A template parsed once (parsing was most of a reply's rendering time), rendered many times.
/// Values are inserted verbatim (plain text, no HTML escaping); an empty value is false in
/// sections. Thread-safe: kainjow's renderer walks its tree through non-const references and
/// keeps an error state, so renders of one template take turns, and a failed render reparses.
class compiled_mustache {
 public:
  explicit compiled_mustache(std::string source);
  ~compiled_mustache();
  compiled_mustache(const compiled_mustache&) = delete;
  compiled_mustache& operator=(const compiled_mustache&) = delete;

  [[nodiscard]] std::expected<std::string, std::string> render(const mustache_vars& vars) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace supportd::reply::detail
