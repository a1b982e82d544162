#pragma once
// The MIME structure of a message: a port of mimetic's parser over the in-memory text, building
// mimetic's entity tree, with each body located in that text instead of copied into the tree.

#include <cstddef>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mimetic/mimeentity.h>

#include "supportd/mime/message.hpp"

namespace supportd::mime::detail {

// A forward iterator over bytes, for mimetic's own parser where test_mime compares with it.
// mimetic's random-access parser searches boundaries anywhere in the text; its forward-iterator
// parser, which parse_structure() ports, matches them only at line starts (RFC 2046 §5.1.1),
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

/// What the structure parser records beside mimetic's tree: where each leaf part's (still
/// transfer-encoded) body lies in the parsed text, and each entity's parsed Content-Type.
class part_index {
 public:
  part_index() {
    // Most messages have one to four entities: no regrowth (a ContentType is copied, not moved).
    spans_.reserve(4);
    types_.reserve(4);
  }

  void add_body(const mimetic::MimeEntity* e, std::string_view body) { spans_.emplace_back(e, body); }
  void add_content_type(const mimetic::MimeEntity* e, mimetic::ContentType ct) {
    types_.emplace_back(e, std::move(ct));
  }

  /// The part's body: a view into the parsed text, or the part's own body() string where
  /// mimetic keeps one (a header line it could not read starts the body there).
  [[nodiscard]] std::string_view body(const mimetic::MimeEntity& e) const noexcept {
    for (const auto& [entity, body] : spans_) {
      if (entity == &e) return body;
    }
    return e.body();
  }

  /// The entity's first Content-Type field as mimetic's header().contentType() parses it, or
  /// null when it has none.
  [[nodiscard]] const mimetic::ContentType* content_type(const mimetic::MimeEntity& e) const noexcept {
    for (auto it = types_.rbegin(); it != types_.rend(); ++it) {
      if (it->first == &e) return &it->second;
    }
    return nullptr;
  }

 private:
  std::vector<std::pair<const mimetic::MimeEntity*, std::string_view>> spans_;
  std::vector<std::pair<const mimetic::MimeEntity*, mimetic::ContentType>> types_;
};

/// Parses `text` into `top` as mimetic's forward-iterator parser does; bodies go to `index`
/// (pointing into `text`) and are left out of the tree, as are preambles and epilogues.
/// Parts, header fields and bodies are exactly those mimetic's own load() gives. Recurses
/// once per nesting level, as mimetic does: callers bound the depth first.
void parse_structure(std::string_view text, mimetic::MimeEntity& top, part_index& index);

/// A message's top-level header, split exactly as mimetic's IteratorParser::loadHeader() splits
/// it, quirks included (a field cut off by the end of the text is lost; a line that cannot be
/// a field ends the header and starts the body; after a line starting with ':' a folded line
/// is kept for the next field's value).
struct top_header {
  // Each field as mimetic's header parser reads it: the name as written (blanks before the
  // colon dropped), the value raw and unfolded (a fold becomes one space). parse_message
  // decodes them in place into its header list.
  std::vector<header_field> fields;
  std::size_t body = 0;     // offset where mimetic's parser continues after the header
  std::string body_prefix;  // text mimetic put into the body before `body` (a bad header line)
};

/// Splits the header at the start of `text`.
[[nodiscard]] top_header split_top_header(std::string_view text);

/// parse_structure() of `text` with its top-level header already split into `header`: `top` is
/// given only the fields it and parse_message read from the top level (Content-Type,
/// Content-Transfer-Encoding, Content-Disposition), not every Received and DKIM field, and the
/// body is parsed from `header.body`. `text` must have no CR.
void parse_structure_after_header(std::string_view text, const top_header& header, mimetic::MimeEntity& top,
                                  part_index& index);

/// A Content-Type value parsed exactly as mimetic's ContentType(value) parses it (type and
/// subtype split at the first ';' and '/', untrimmed; each ';'-separated parameter trimmed of
/// blanks and one pair of quotes), without its tokenizer's copies.
[[nodiscard]] mimetic::ContentType parse_content_type(std::string_view value);

/// What mimetic's ContentType::str() gives (`type/subtype; name="value"...`), without its
/// temporary strings.
[[nodiscard]] std::string content_type_text(const mimetic::ContentType& ct);

/// Offset of the first CR or LF at or after `pos`, or npos.
[[nodiscard]] std::size_t find_line_end(std::string_view s, std::size_t pos) noexcept;

}  // namespace supportd::mime::detail
