#pragma once
// The MIME structure of a message: mimetic's parser over the in-memory text, with each body
// located in that text instead of copied into mimetic's tree.

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include <mimetic/mimeentity.h>

namespace supportd::mime::detail {

/// Where each leaf part's (still transfer-encoded) body lies in the parsed text.
class body_spans {
 public:
  void add(const mimetic::MimeEntity* e, std::string_view body) { spans_.emplace_back(e, body); }

  /// The part's body: a view into the parsed text, or the part's own body() string where
  /// mimetic keeps one (a header line it could not read starts the body there).
  [[nodiscard]] std::string_view of(const mimetic::MimeEntity& e) const noexcept {
    for (const auto& [entity, body] : spans_) {
      if (entity == &e) return body;
    }
    return e.body();
  }

 private:
  std::vector<std::pair<const mimetic::MimeEntity*, std::string_view>> spans_;
};

/// Parses `text` into `top` with mimetic's forward-iterator parser; bodies go to `spans`
/// (which point into `text`) and are left out of the tree, as are preambles and epilogues.
/// Parts, header fields and bodies are exactly those mimetic's own load() gives.
/// May throw what mimetic throws (std::length_error on some malformed input).
void parse_structure(std::string_view text, mimetic::MimeEntity& top, body_spans& spans);

/// Offset of the first CR or LF at or after `pos`, or npos.
[[nodiscard]] std::size_t find_line_end(std::string_view s, std::size_t pos) noexcept;

}  // namespace supportd::mime::detail
