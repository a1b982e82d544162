#include "supportd/web/http.hpp"

#include "detail/form.hpp"

namespace supportd::web {

namespace {
std::string find_header(const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (detail::iequals(n, name)) return v;
  }
  return {};
}
}  // namespace

std::string request::header(std::string_view name) const { return find_header(headers, name); }

std::string response::header(std::string_view name) const { return find_header(headers, name); }

}  // namespace supportd::web
