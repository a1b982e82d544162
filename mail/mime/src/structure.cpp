// parse_structure(): mimetic's iterator parser over the message text, with its one virtual step,
// copy_until_boundary(), replaced.
//
// mimetic copies every body (attachments included) into its tree a byte at a time through a
// 4 KiB block, and preambles and epilogues too, though only the chosen text part is ever read.
// Here headers, boundaries and the entity tree are still mimetic's, but a body is found with
// memchr per line and recorded as a span of the text.
//
// The replacement keeps mimetic's exact results, quirks included: it models the block (a line
// is only tested as a boundary from where the block last flushed it, and the newline before a
// boundary stays in the body when it was flushed before the boundary line ended), so parts
// and bodies are byte for byte those mimetic builds (test_mime compares the two).

#include "detail/structure.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>

#include <mimetic/parser/itparser.h>

namespace supportd::mime::detail {
namespace {

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

class span_parser : public mimetic::IteratorParser<byte_iterator, std::forward_iterator_tag> {
 public:
  span_parser(mimetic::MimeEntity& top, body_spans& spans)
      : IteratorParser<byte_iterator, std::forward_iterator_tag>(top), spans_(spans) {}

 private:
  // mimetic flushes its 4096-byte block when fewer than 3 bytes are left before a read.
  static constexpr std::size_t flush_at = 4096 - 3;

  static bool is_nl(char c) noexcept { return c == '\r' || c == '\n'; }
  // mimetic's isnl(a, b): `b` then `a` are a CRLF or LFCR pair.
  static bool is_nl_pair(char a, char b) noexcept {
    return is_nl(a) && b == (a == '\r' ? '\n' : '\r');
  }

  void copy_until_boundary(mimetic::ParsingElem pe) override {
    const char* const first = m_bit.get();
    const auto size = static_cast<std::size_t>(m_eit.get() - first);
    const std::string_view text(first, size);
    // Offsets from `first`: `base` is where the block starts (all before it was handed on),
    // `line` where the block's copy of the current line starts.
    std::size_t base = 0;
    std::size_t line = 0;
    std::size_t p = 0;  // where the current line starts
    while (p < size) {
      std::size_t nl = find_line_end(text, p);
      if (nl == std::string_view::npos) nl = size;
      // mimetic tests the block before reading each byte of the line and the first byte of
      // its newline, and flushes it when full.
      const std::size_t check_last = nl < size ? nl : size - 1;
      for (std::size_t x = p;;) {
        const std::size_t f = std::max(x, base + flush_at);
        if (f > check_last) break;
        if (line == base) {
          base = f;  // a line longer than the block: flushed whole, tested from here on
          line = f;
        } else {
          base = line;  // flushed up to the line, which moves to the front
        }
        x = f + 1;
      }
      if (nl == size) break;  // a last line without newline is never a boundary
      std::size_t next = nl + 1;
      if (next < size && is_nl_pair(text[next], text[nl])) ++next;
      if (nl > p && line + 1 < nl && text[line] == '-' && text[line + 1] == '-' &&
          isBoundary(std::string(text.substr(line, nl - line))) != NoBoundary) {
        // The newline before a boundary belongs to it (RFC 2046 §5.1.1), if still in the block.
        std::size_t end = line;
        if (line - base >= 2) {
          if (is_nl_pair(text[line - 1], text[line - 2])) {
            end -= 2;
          } else if (is_nl(text[line - 1])) {
            end -= 1;
          }
        } else if (line - base == 1 && is_nl(text[base])) {
          end -= 1;
        }
        on_body(pe, text.substr(0, end));
        m_bit = byte_iterator(first + next);
        return;
      }
      p = next;
      line = next;
    }
    on_body(pe, text);
    m_bit = m_eit;
  }

  void on_body(mimetic::ParsingElem pe, std::string_view body) {
    if (pe != peBody) return;  // preamble, epilogue
    mimetic::MimeEntity* e = m_entityStack.top();
    if (e->body().empty()) {
      spans_.add(e, body);
    } else {
      e->body().append(body);  // mimetic's header parser put the first line there
    }
  }

  body_spans& spans_;
};

}  // namespace

void parse_structure(std::string_view text, mimetic::MimeEntity& top, body_spans& spans) {
  span_parser parser(top, spans);
  parser.run(byte_iterator(text.data()), byte_iterator(text.data() + text.size()));
}

std::size_t find_line_end(std::string_view s, std::size_t pos) noexcept {
  // Two memchr scans instead of find_first_of("\r\n"), which calls memchr once per byte.
  const char* begin = s.data() + pos;
  const std::size_t n = s.size() - pos;
  const void* lf = std::memchr(begin, '\n', n);
  const std::size_t limit =
      lf == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(lf) - begin);
  const void* cr = std::memchr(begin, '\r', limit);
  if (cr != nullptr) return pos + static_cast<std::size_t>(static_cast<const char*>(cr) - begin);
  return lf == nullptr ? std::string_view::npos : pos + limit;
}

}  // namespace supportd::mime::detail
