// GCC 12 reports a false -Wnull-dereference inside libstdc++'s vector::insert once kainjow's
// context::push is inlined here; the warning's location is in a system header, so it can only be
// silenced before those headers are read. Kept to this one file so the rest of the component
// builds with the full warning set.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "detail/mustache.hpp"

#include <exception>
#include <mutex>
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

struct compiled_mustache::impl {
  explicit impl(std::string src) : source(std::move(src)) { parse(); }

  void parse() {
    // kainjow's parser grows every node's children with push_back (one node per whitespace
    // character), so up to half of each vector is spare capacity; a copy holds them at exact size.
    const kainjow::mustache::mustache parsed{source};
    tmpl = std::make_unique<kainjow::mustache::mustache>(parsed);
    tmpl->set_custom_escape([](const std::string& s) { return s; });
  }

  std::string source;
  std::mutex mutex;
  std::unique_ptr<kainjow::mustache::mustache> tmpl;
};

compiled_mustache::compiled_mustache(std::string source)
    : impl_(std::make_unique<impl>(std::move(source))) {}

compiled_mustache::~compiled_mustache() = default;

std::expected<std::string, std::string> compiled_mustache::render(const mustache_vars& vars) const {
  try {
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
    std::lock_guard lock(impl_->mutex);
    if (!impl_->tmpl->is_valid()) impl_->parse();  // a failed render leaves its error behind
    if (!impl_->tmpl->is_valid()) return std::unexpected(impl_->tmpl->error_message());
    std::string out = impl_->tmpl->render(data);
    if (!impl_->tmpl->is_valid()) return std::unexpected(impl_->tmpl->error_message());
    return out;
  } catch (const std::exception& e) {
    return std::unexpected(std::string("renderer failed: ") + e.what());
  }
}

}  // namespace supportd::reply::detail
