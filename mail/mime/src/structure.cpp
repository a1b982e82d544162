// parse_structure(): mimetic's iterator parser over the message text, with its one virtual step,
// copy_until_boundary(), replaced; split_top_header() and parse_structure_after_header(): the
// top-level header split here, mimetic handed only its MIME fields.
//
// mimetic copies every body (attachments included) into its tree a byte at a time through a
// 4 KiB block, and preambles and epilogues too, though only the chosen text part is ever read.
// Here headers, boundaries and the entity tree are still mimetic's, but a body is found line by
// line and recorded as a span of the text.
//
// The replacement keeps mimetic's exact results, quirks included: it models the block (a line
// is only tested as a boundary from where the block last flushed it, and the newline before a
// boundary stays in the body when it was flushed before the boundary line ended), so parts
// and bodies are byte for byte those mimetic builds. Likewise split_top_header() is
// loadHeader() state for state. test_mime compares all of them with mimetic itself.

#include "detail/structure.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>

#include <mimetic/parser/itparser.h>

#include "detail/charset.hpp"

namespace supportd::mime::detail {
namespace {


class span_parser : public mimetic::IteratorParser<byte_iterator, std::forward_iterator_tag> {
 public:
  span_parser(mimetic::MimeEntity& top, body_spans& spans, bool lf_only)
      : IteratorParser<byte_iterator, std::forward_iterator_tag>(top), spans_(spans), lf_only_(lf_only) {}

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
      std::size_t nl = lf_only_ ? text.find('\n', p) : find_line_end(text, p);
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
  bool lf_only_;  // the text has no CR: one memchr per line finds its end
};

bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }
bool is_nl(char c) noexcept { return c == '\r' || c == '\n'; }
char nl_complement(char c) noexcept { return c == '\r' ? '\n' : '\r'; }

// mimetic's addField(name, value) takes C strings: each stops at a NUL.
void cut_at_nul(std::string& s) {
  if (const auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
}

// The fields mimetic and parse_message read from the top-level entity's header (mimetic finds
// fields by a case-insensitive ASCII compare, as iequals does).
bool is_mime_field(std::string_view name) noexcept {
  return iequals(name, "content-type") || iequals(name, "content-transfer-encoding") ||
         iequals(name, "content-disposition");
}

// A field written so that mimetic's header parser reads back exactly `name` and `value`.
void write_field(std::string& out, const header_text_field& f) {
  out += f.name;
  out += ':';
  // A value can only start with spaces that stood for folds (its first character is never a
  // blank otherwise): each is written as a fold again, since a blank after the colon is skipped.
  std::size_t folds = 0;
  while (folds < f.value.size() && f.value[folds] == ' ') ++folds;
  for (std::size_t k = 0; k < folds; ++k) out += "\n ";
  out.append(f.value, folds);
  out += '\n';
}

}  // namespace

top_header split_top_header(std::string_view text) {
  // IteratorParser::loadHeader(), state for state. `name` and `value` are its buffers: like
  // them, `value` is only emptied when a field is added.
  enum class state { init, ignore_line, newline, waiting_name, waiting_value, waiting_folded, name, value };
  top_header out;
  out.fields.reserve(32);  // most headers have fewer fields: no regrowth moving every string
  const bool has_nul = std::memchr(text.data(), '\0', text.size()) != nullptr;
  std::string name;
  std::string value;
  state st = state::init;
  long pos = 0;  // bytes read on the current line
  const std::size_t n = text.size();
  std::size_t i = 0;
  out.body = n;
  while (i < n) {
    char c = text[i];
    switch (st) {
      case state::init:
        st = is_nl(c) ? state::newline : state::name;
        continue;
      case state::ignore_line:
        if (!is_nl(c)) break;
        st = state::newline;
        continue;
      case state::newline: {
        st = state::waiting_name;
        const char prev = c;
        if (++i == n) return out;
        c = text[i];
        if (pos > 0) {
          pos = 0;
          if (c == nl_complement(prev)) {
            pos = -1;
            break;
          }
          continue;
        }
        if (c == nl_complement(prev)) ++i;  // an empty line ends the header
        out.body = i;
        return out;
      }
      case state::waiting_name:
        if (is_blank(c)) {
          st = state::waiting_folded;
          continue;
        }
        if (!name.empty()) {
          out.fields.push_back({std::move(name), std::move(value)});
          if (has_nul) {
            cut_at_nul(out.fields.back().name);
            cut_at_nul(out.fields.back().value);
          }
          name.clear();
          value.clear();
        }
        st = is_nl(c) ? state::newline : state::name;
        continue;
      case state::waiting_value:
        if (is_blank(c)) break;
        st = state::value;
        continue;
      case state::waiting_folded:
        if (is_blank(c)) break;
        value.push_back(' ');
        st = state::value;
        continue;
      case state::name:
        if (c > 32 && c < 127 && c != ':') {  // `char` is signed: 8-bit bytes are not name bytes
          if (!name.empty() && is_blank(name.back())) {
            // "FIELDNAME BLANK+ c": the line is the first line of the body.
            out.body_prefix = name;
            out.body = i;
            return out;
          }
          // The rest of a run of name bytes at once.
          std::size_t j = i + 1;
          while (j < n && text[j] > 32 && text[j] < 127 && text[j] != ':') ++j;
          name.append(text.substr(i, j - i));
          pos += static_cast<long>(j - i);
          i = j;
          continue;
        }
        if (c == ':') {
          if (name.empty()) {
            st = state::ignore_line;  // a line starting with ':' is ignored
            continue;
          }
          while (!name.empty() && is_blank(name.back())) name.pop_back();
          st = state::waiting_value;
        } else if (is_blank(c)) {
          name.push_back(c);
        } else {
          // Not a header line, or the blank line is missing: the body starts here.
          out.body_prefix = name;
          out.body = i;
          return out;
        }
        break;
      case state::value: {
        // The value runs to the end of the line.
        std::size_t j = find_line_end(text, i);
        if (j == std::string_view::npos) j = n;
        value.append(text.substr(i, j - i));
        pos += static_cast<long>(j - i);
        i = j;
        if (i < n) st = state::newline;
        continue;
      }
    }
    ++i;
    ++pos;
  }
  return out;  // the end of the text inside the header: a pending field is lost
}

bool parse_structure_after_header(std::string& text, std::size_t begin, const top_header& header,
                                  mimetic::MimeEntity& top, body_spans& spans) {
  std::string mime_header;
  mime_header.reserve(256);
  for (const header_text_field& f : header.fields) {
    if (is_mime_field(f.name)) write_field(mime_header, f);
  }
  mime_header += '\n';
  const std::size_t body = begin + header.body;
  if (mime_header.size() > body) return false;
  const std::size_t start = body - mime_header.size();
  text.replace(start, mime_header.size(), mime_header);
  top.body().assign(header.body_prefix);
  span_parser parser(top, spans, true);
  parser.run(byte_iterator(text.data() + start), byte_iterator(text.data() + text.size()));
  return true;
}

void parse_structure(std::string_view text, mimetic::MimeEntity& top, body_spans& spans) {
  span_parser parser(top, spans, std::memchr(text.data(), '\r', text.size()) == nullptr);
  parser.run(byte_iterator(text.data()), byte_iterator(text.data() + text.size()));
}

std::size_t find_line_end(std::string_view s, std::size_t pos) noexcept {
  // Eight bytes at a time for a CR or LF (a zero byte of word ^ "\r\r..." or word ^ "\n\n...";
  // the lowest flagged byte is always a real one). Lines are short: two memchr calls per line,
  // one for LF and one for CR before it, cost more than scanning them.
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high = 0x8080808080808080ULL;
  const char* const data = s.data();
  std::size_t i = pos;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, data + i, sizeof w);
    const std::uint64_t cr = w ^ (ones * '\r');
    const std::uint64_t lf = w ^ (ones * '\n');
    const std::uint64_t found = ((cr - ones) & ~cr & high) | ((lf - ones) & ~lf & high);
    if (found != 0) {
      if constexpr (std::endian::native == std::endian::little) {
        return i + static_cast<std::size_t>(std::countr_zero(found) / 8);
      } else {
        break;  // the byte loop below finds it
      }
    }
  }
  for (; i < s.size(); ++i) {
    if (data[i] == '\r' || data[i] == '\n') return i;
  }
  return std::string_view::npos;
}

}  // namespace supportd::mime::detail
