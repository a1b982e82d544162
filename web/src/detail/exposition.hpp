#pragma once
// Writer of the Prometheus text exposition format, version 0.0.4.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace supportd::web::detail {

using label = std::pair<std::string_view, std::string_view>;

class exposition {
 public:
  /// Starts a metric family: its HELP and TYPE lines.
  void family(std::string_view name, std::string_view help, std::string_view type);
  /// One sample line; label values are escaped (backslash, double quote, line feed).
  void sample(std::string_view name, std::initializer_list<label> labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }
  [[nodiscard]] const std::string& text() const { return out_; }
  void append(std::string_view text) { out_ += text; }

 private:
  std::string out_;
};

/// A sample value: shortest round-trip decimal, "+Inf", "-Inf" or "NaN".
[[nodiscard]] std::string format_value(double v);

}  // namespace supportd::web::detail
