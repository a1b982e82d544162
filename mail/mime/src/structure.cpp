// parse_structure(): a port of mimetic's IteratorParser (doLoad, loadHeader, loadBody,
// loadMultipart, copy_until_boundary) building mimetic's entity tree; split_top_header() and
// parse_structure_after_header(): the top-level header split here, the tree given only its
// MIME fields.
//
// mimetic's parser reads a header a character at a time into buffers it grows by 128 bytes, and
// copies every body (attachments included) into its tree a byte at a time through a 4 KiB block,
// preambles and epilogues too, though only the chosen text part is ever read (together about a
// fifth of parse time in callgrind). Here headers are split by runs of bytes, the entity tree and
// its fields are still mimetic's, each Content-Type is parsed once into a mimetic ContentType
// (parse_content_type(), as ContentType::set() parses), and a body is found line by line and
// recorded as a span of the text.
//
// The port keeps mimetic's exact results, quirks included: it models the block (a line is only
// tested as a boundary from where the block last flushed it, and the newline before a boundary
// stays in the body when it was flushed before the boundary line ended), so parts and bodies
// are byte for byte those mimetic builds; headers are split by loadHeader()'s states. test_mime
// compares all of them with mimetic itself.

#include "detail/structure.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>

#include <mimetic/mimeentity.h>

#include "detail/charset.hpp"

namespace supportd::mime::detail {
namespace {

bool is_blank(char c) noexcept { return c == ' ' || c == '\t'; }
bool is_nl(char c) noexcept { return c == '\r' || c == '\n'; }
char nl_complement(char c) noexcept { return c == '\r' ? '\n' : '\r'; }
// mimetic's isnl(a, b): `b` then `a` are a CRLF or LFCR pair.
bool is_nl_pair(char a, char b) noexcept { return is_nl(a) && b == nl_complement(a); }

// mimetic's addField(name, value) takes C strings: each stops at a NUL.
void cut_at_nul(std::string& s) {
  if (const auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
}

// Where a header ends, as split_header() finds it.
struct header_end {
  std::size_t body = 0;  // offset where mimetic's parser continues after the header
  std::string body_prefix;  // text mimetic put into the body (a bad header line)
};

// IteratorParser::loadHeader(), state for state, over the header at the start of `text`; each
// complete field goes to on_field(name, value). `name` and `value` are its buffers: like them,
// `value` is only emptied when a field is added.
template <typename OnField>
header_end split_header(std::string_view text, OnField&& on_field) {
  enum class state { init, ignore_line, newline, waiting_name, waiting_value, waiting_folded, name, value };
  header_end out;
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
          // A name holds only bytes 33..126; only the value can have a NUL. (Checked per value,
          // not over `text`: for a part header that is the rest of the message.)
          cut_at_nul(value);
          on_field(name, value);
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
            out.body_prefix = std::move(name);
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
          out.body_prefix = std::move(name);
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

// IteratorParser::addField().
void add_field(mimetic::MimeEntity& e, const std::string& name, const std::string& value) {
  mimetic::Header& h = e.header();
  const auto it = h.insert(h.end(), mimetic::Field());
  it->name(name);
  it->value(value);
}

// The fields mimetic and parse_message read from the top-level entity's header (mimetic finds
// fields by a case-insensitive ASCII compare, as iequals does).
bool is_mime_field(std::string_view name) noexcept {
  return iequals(name, "content-type") || iequals(name, "content-transfer-encoding") ||
         iequals(name, "content-disposition");
}

// mimetic's IteratorParser over text in memory.
class structure_parser {
 public:
  structure_parser(std::string_view text, std::size_t pos, part_index& index, bool lf_only)
      : text_(text), pos_(pos), index_(index), lf_only_(lf_only) {}

  // doLoad(): the entity's header, then its body.
  void load(mimetic::MimeEntity& e) {
    load_header(e);
    load_body(e);
  }

  // loadBody(): by the entity's Content-Type, its body, its parts or its enclosed message.
  void load_body(mimetic::MimeEntity& e) {
    const mimetic::ContentType* ct = index_.content_type(e);
    if (ct == nullptr) {
      copy_until_boundary(e, element::body);  // mimetic's null ContentType: no type
    } else if (iequals(ct->type(), "multipart")) {
      load_multipart(e, *ct);
    } else if (iequals(ct->type(), "message") && iequals(ct->subtype(), "rfc822")) {
      load_child(e);
    } else {
      copy_until_boundary(e, element::body);
    }
  }

 private:
  enum class element { preamble, body, epilogue };
  enum class boundary_kind { none, boundary, closing, higher_level };

  // mimetic flushes its 4096-byte block when fewer than 3 bytes are left before a read.
  static constexpr std::size_t flush_at = 4096 - 3;

  void load_header(mimetic::MimeEntity& e) {
    bool content_type_seen = false;
    header_end end = split_header(text_.substr(pos_), [&](const std::string& name, const std::string& value) {
      add_field(e, name, value);
      if (!content_type_seen && iequals(name, "content-type")) {
        content_type_seen = true;
        index_.add_content_type(&e, parse_content_type(value));
      }
    });
    if (!end.body_prefix.empty()) e.body().append(end.body_prefix);
    pos_ += end.body;
  }

  // pushNewChild(), doLoad(), popChild().
  void load_child(mimetic::MimeEntity& parent) {
    auto* child = new mimetic::MimeEntity;
    parent.body().parts().push_back(child);  // the parent owns it from here
    load(*child);
  }

  // loadMultipart(): the preamble, each part, the epilogue (RFC 2046 §5.1.1).
  void load_multipart(mimetic::MimeEntity& e, const mimetic::ContentType& ct) {
    boundaries_.push_back("--" + ct.param("boundary"));
    copy_until_boundary(e, element::preamble);
    while (pos_ != text_.size()) {
      switch (last_) {
        case boundary_kind::none:
          return;
        case boundary_kind::boundary:
          load_child(e);
          break;
        case boundary_kind::closing:
          boundaries_.pop_back();
          copy_until_boundary(e, element::epilogue);
          return;
        case boundary_kind::higher_level:
          boundaries_.pop_back();
          return;
      }
    }
  }

  // isBoundary(): against the innermost boundary first; an outer one ends this level.
  boundary_kind is_boundary(std::string_view line) {
    if (line.empty() || line.front() != '-') return last_ = boundary_kind::none;
    for (std::size_t k = boundaries_.size(); k-- > 0;) {
      const std::string& b = boundaries_[k];
      if (!line.starts_with(b)) continue;
      if (k + 1 != boundaries_.size()) return last_ = boundary_kind::higher_level;
      return last_ = line.substr(b.size()).starts_with("--") ? boundary_kind::closing : boundary_kind::boundary;
    }
    return last_ = boundary_kind::none;
  }

  // copy_until_boundary(): the text up to the next boundary line, which is consumed.
  void copy_until_boundary(mimetic::MimeEntity& e, element pe) {
    const std::string_view text = text_.substr(pos_);
    if (boundaries_.empty()) {  // no line can be a boundary: all the rest (a single-part message)
      on_body(e, pe, text);
      pos_ = text_.size();
      return;
    }
    const std::size_t size = text.size();
    // Offsets in `text`: `base` is where the block starts (all before it was handed on),
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
          is_boundary(text.substr(line, nl - line)) != boundary_kind::none) {
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
        on_body(e, pe, text.substr(0, end));
        pos_ += next;
        return;
      }
      p = next;
      line = next;
    }
    on_body(e, pe, text);
    pos_ = text_.size();
  }

  void on_body(mimetic::MimeEntity& e, element pe, std::string_view body) {
    if (pe != element::body) return;  // preamble, epilogue
    if (e.body().empty()) {
      index_.add_body(&e, body);
    } else {
      e.body().append(body);  // the header parser put the first line there
    }
  }

  std::string_view text_;
  std::size_t pos_;  // mimetic's m_bit
  part_index& index_;
  bool lf_only_;  // the text has no CR: one memchr per line finds its end
  std::vector<std::string> boundaries_;  // "--boundary" of each open multipart, innermost last
  boundary_kind last_ = boundary_kind::none;  // what isBoundary() last found
};

}  // namespace

top_header split_top_header(std::string_view text) {
  top_header out;
  // Most headers have fewer fields; 16 fields (1 KiB) stay within malloc's per-thread cache.
  out.fields.reserve(16);
  header_end end = split_header(text, [&](std::string& name, std::string& value) {
    out.fields.push_back({std::move(name), std::move(value)});
  });
  out.body = end.body;
  out.body_prefix = std::move(end.body_prefix);
  return out;
}

void parse_structure_after_header(std::string_view text, const top_header& header, mimetic::MimeEntity& top,
                                  part_index& index) {
  bool content_type_seen = false;
  for (const header_field& f : header.fields) {
    if (!is_mime_field(f.name)) continue;
    add_field(top, f.name, f.value);
    if (!content_type_seen && iequals(f.name, "content-type")) {
      content_type_seen = true;
      index.add_content_type(&top, parse_content_type(f.value));
    }
  }
  top.body().assign(header.body_prefix);
  structure_parser(text, header.body, index, true).load_body(top);
}

void parse_structure(std::string_view text, mimetic::MimeEntity& top, part_index& index) {
  structure_parser(text, 0, index, std::memchr(text.data(), '\r', text.size()) == nullptr).load(top);
}

std::string content_type_text(const mimetic::ContentType& ct) {
  // ContentType::str(): "type/subtype", then `; name="value"` per parameter, built in place.
  std::size_t size = ct.type().size() + 1 + ct.subtype().size();
  for (const mimetic::FieldParam& p : ct.paramList()) size += 5 + p.name().size() + p.value().size();
  std::string out;
  out.reserve(size);
  out += ct.type();
  out += '/';
  out += ct.subtype();
  for (const mimetic::FieldParam& p : ct.paramList()) {
    out += "; ";
    out += p.name();
    out += "=\"";
    out += p.value();
    out += '"';
  }
  return out;
}

mimetic::ContentType parse_content_type(std::string_view value) {
  // ContentType::set(): the text before the first ';' is "type/subtype", split at the first
  // '/'; the subtype runs to a second '/'.
  mimetic::ContentType ct;
  const std::size_t semi = value.find(';');
  const std::string_view type_subtype = value.substr(0, semi);
  const std::size_t slash = type_subtype.find('/');
  ct.type(std::string(type_subtype.substr(0, slash)));
  if (slash != std::string_view::npos) {
    const std::string_view rest = type_subtype.substr(slash + 1);
    ct.subtype(std::string(rest.substr(0, rest.find('/'))));
  }
  if (semi == std::string_view::npos || semi + 1 == value.size()) return ct;
  // Its tokenizer splits the rest at every ';' (quotes or not), with no token after a last ';'.
  std::string_view params = value.substr(semi + 1);
  auto strip_blanks = [](std::string_view s) {  // remove_external_blanks()
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
  };
  while (true) {
    const std::size_t end = params.find(';');
    const std::string_view token = params.substr(0, end);
    // FieldParam(text): name and value around the first '='; without one, both are empty.
    std::string_view name;
    std::string_view param_value;
    if (const std::size_t eq = token.find('='); eq != std::string_view::npos) {
      name = strip_blanks(token.substr(0, eq));
      param_value = strip_blanks(token.substr(eq + 1));
      if (param_value.size() >= 2 && param_value.front() == '"' && param_value.back() == '"') {
        param_value = param_value.substr(1, param_value.size() - 2);  // remove_dquote()
      }
    }
    ct.paramList().push_back(mimetic::FieldParam(std::string(name), std::string(param_value)));
    if (end == std::string_view::npos || end + 1 == params.size()) break;
    params.remove_prefix(end + 1);
  }
  return ct;
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
