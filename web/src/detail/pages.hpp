#pragma once
// The page templates (mustache: every {{value}} is HTML-escaped, so customer text can never
// become markup) and the stylesheet, compiled into the binary: no external assets.

#include <string_view>

namespace supportd::web::detail {

extern const std::string_view layout_page;
extern const std::string_view login_page;
extern const std::string_view list_page;
extern const std::string_view thread_page;
extern const std::string_view error_page;
extern const std::string_view stylesheet;

}  // namespace supportd::web::detail
