// GCC 12 reports a false -Wnull-dereference inside libstdc++'s vector::insert once kainjow's
// context::push is inlined here; the warning's location is in a system header, so it can only be
// silenced before those headers are read. Kept to this one file so the rest of the component
// builds with the full warning set.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "detail/mustache.hpp"

#include <exception>
#include <kainjow/mustache.hpp>

namespace supportd::reply::detail {

std::string mustache_syntax_error(const std::string& source) {
  try {
    const kainjow::mustache::mustache tmpl{source};
    return tmpl.is_valid() ? std::string{} : tmpl.error_message();
  } catch (const std::exception& e) {
    return std::string("parser failed: ") + e.what();
  }
}

std::expected<std::string, std::string> render_mustache(
    const std::string& source, const std::vector<std::pair<std::string, std::string>>& vars) {
  try {
    kainjow::mustache::mustache tmpl{source};
    if (!tmpl.is_valid()) return std::unexpected(tmpl.error_message());
    tmpl.set_custom_escape([](const std::string& s) { return s; });
    kainjow::mustache::data data;
    // kainjow treats every string, even "", as true in sections; an empty value is set as false
    // so that {{#x}}...{{/x}} / {{^x}}...{{/x}} can handle a missing name (it still prints "").
    for (const auto& [name, value] : vars) {
      if (value.empty()) {
        data.set(name, kainjow::mustache::data{false});
      } else {
        data.set(name, value);
      }
    }
    std::string out = tmpl.render(data);
    if (!tmpl.is_valid()) return std::unexpected(tmpl.error_message());
    return out;
  } catch (const std::exception& e) {
    return std::unexpected(std::string("renderer failed: ") + e.what());
  }
}

}  // namespace supportd::reply::detail
