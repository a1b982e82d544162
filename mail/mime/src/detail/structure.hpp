#pragma once
// The MIME structure of a message: mimetic's parser over the in-memory text, with each body
// located in that text instead of copied into mimetic's tree.

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mimetic/mimeentity.h>

namespace supportd::mime::detail {

// A forward iterator over bytes. mimetic's random-access parser searches boundaries anywhere
// in the text; its forward-iterator parser matches them only at line starts (RFC 2046 §5.1.1),
// which is both correct and what parse_message's nesting pre-scan models.
class byte_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  byte_iterator() = default;
  explicit byte_iterator(const char* p) noexcept : p_(p) {}
  [[nodiscard]] const char* get() const noexcept { return p_; }
  reference operator*() const noexcept { return *p_; }
  byte_iterator& operator++() noexcept {
    ++p_;
    return *this;
  }
  byte_iterator operator++(int) noexcept {
    byte_iterator old = *this;
    ++p_;
    return old;
  }
  friend bool operator==(byte_iterator a, byte_iterator b) noexcept { return a.p_ == b.p_; }
  friend bool operator!=(byte_iterator a, byte_iterator b) noexcept { return a.p_ != b.p_; }

 private:
  const char* p_ = nullptr;
};

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

/// One field of a header as mimetic's header parser reads it: the name as written (blanks before
/// the colon dropped), the value unfolded (a fold becomes one space).
struct header_text_field {
  std::string name;
  std::string value;
};

/// A message's top-level header, split exactly as mimetic's IteratorParser::loadHeader() splits
/// it, quirks included (a field cut off by the end of the text is lost; a line that cannot be
/// a field ends the header and starts the body; after a line starting with ':' a folded line
/// is kept for the next field's value).
struct top_header {
  std::vector<header_text_field> fields;
  std::size_t body = 0;     // offset where mimetic's parser continues after the header
  std::string body_prefix;  // text mimetic put into the body before `body` (a bad header line)
};

/// Splits the header at the start of `text`.
[[nodiscard]] top_header split_top_header(std::string_view text);

/// parse_structure() of `text` from `begin`, with the top-level header already split into
/// `header`: mimetic is handed only the fields it and parse_message read from the top level
/// (Content-Type, Content-Transfer-Encoding, Content-Disposition), written back into `text`
/// just before the body (the bytes before `begin` are scratch for that), instead of parsing
/// every Received and DKIM field a character at a time into its tree. False, with `text` and
/// `top` untouched, when they do not fit; then parse_structure() the whole text instead.
/// `text` must have no CR.
[[nodiscard]] bool parse_structure_after_header(std::string& text, std::size_t begin,
                                                const top_header& header, mimetic::MimeEntity& top,
                                                body_spans& spans);

/// Offset of the first CR or LF at or after `pos`, or npos.
[[nodiscard]] std::size_t find_line_end(std::string_view s, std::size_t pos) noexcept;

}  // namespace supportd::mime::detail
