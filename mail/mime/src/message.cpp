// parse_message: a raw RFC 5322 message to decoded UTF-8 fields and body text.
//
// mimetic splits header and structure. Before it runs, one pass over the bytes normalises line
// endings, enforces the limits and measures MIME nesting, because mimetic recurses once per level
// and would overflow the stack on hostile input.

#include "supportd/mime/message.hpp"

#include <cstddef>
#include <cstring>
#include <exception>
#include <iterator>
#include <string>
#include <vector>

#include <mimetic/mimeentity.h>
#include <mimetic/parser/itparser.h>

#include "detail/charset.hpp"
#include "detail/codec.hpp"
#include "detail/headers.hpp"

namespace supportd::mime {
namespace {

constexpr std::size_t max_defects = 32;
// After the top-level header, longer lines are split: mimetic grows its header buffers 128 bytes
// at a time, so a multi-megabyte line where it expects a part header would cost quadratic time.
constexpr std::size_t max_body_line = 32 * 1024;
constexpr std::size_t max_content_type_bytes = 8 * 1024;

// A forward iterator over bytes. mimetic's random-access parser searches boundaries anywhere
// in the text; its forward-iterator parser matches them only at line starts (RFC 2046 §5.1.1),
// which is both correct and what the nesting pre-scan below models.
class byte_iterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  byte_iterator() = default;
  explicit byte_iterator(const char* p) noexcept : p_(p) {}
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

void add_defect(parsed_message& m, std::string text) {
  if (m.defects.size() < max_defects) m.defects.push_back(std::move(text));
}

std::string lower(std::string_view s) {
  std::string out(s);
  detail::ascii_lower(out);
  return out;
}

// Offset of the first CR or LF at or after `pos`, or npos. Two memchr scans instead of
// find_first_of("\r\n"), which calls memchr once per byte of the message (the parser's top hot
// spot in callgrind).
std::size_t find_line_end(std::string_view s, std::size_t pos) noexcept {
  const char* begin = s.data() + pos;
  const std::size_t n = s.size() - pos;
  const void* lf = std::memchr(begin, '\n', n);
  const std::size_t limit = lf == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(lf) - begin);
  const void* cr = std::memchr(begin, '\r', limit);
  if (cr != nullptr) return pos + static_cast<std::size_t>(static_cast<const char*>(cr) - begin);
  return lf == nullptr ? std::string_view::npos : pos + limit;
}

// Whether a Content-Type value can be multipart/* or message/*: the others open no nesting
// level, so the pre-scan skips mimetic's (allocating) Content-Type parser for them.
bool may_nest(std::string_view value) noexcept {
  for (std::size_t i = 0; i + 7 <= value.size(); ++i) {
    const char c = static_cast<char>(value[i] | 0x20);
    if ((c == 'm' && detail::istarts_with(value.substr(i), "multipart")) ||
        (c == 'm' && detail::istarts_with(value.substr(i), "message"))) {
      return true;
    }
  }
  return false;
}

// One open nesting level seen by the pre-scan.
struct open_level {
  std::string marker;  // "--boundary"; empty for a message/rfc822 level
  bool is_message = false;
};

// Single pass: LF line endings, limits, and the deepest nesting mimetic could reach.
class prescanner {
 public:
  explicit prescanner(const parse_limits& limits) : limits_(limits) {}

  std::expected<std::string, parse_error> run(std::string_view raw) {
    std::string out;
    out.reserve(raw.size() + raw.size() / 32 + 2);
    bool in_top_header = true;
    std::size_t header_bytes = 0;
    std::size_t pos = 0;
    bool first_line = true;
    while (pos < raw.size()) {
      std::size_t eol = find_line_end(raw, pos);
      std::size_t next = 0;
      if (eol == std::string_view::npos) {
        eol = raw.size();
        next = raw.size();
      } else {
        next = eol + 1;
        if (raw[eol] == '\r' && next < raw.size() && raw[next] == '\n') ++next;
      }
      const std::string_view line = raw.substr(pos, eol - pos);
      pos = next;

      if (first_line) {
        // A UTF-8 byte order mark, blank lines left by a client and an mbox separator
        // ("From sender date") come before the header but are no part of it.
        std::string_view t = line;
        if (t.starts_with("\xEF\xBB\xBF")) t.remove_prefix(3);
        if (detail::trim(t).empty() && pos < raw.size()) continue;
        first_line = false;
        if (t.starts_with("From ")) continue;
        if (t.size() != line.size()) {
          header_bytes += t.size() + 1;
          out.append(t);
          out.push_back('\n');
          if (auto err = scan_line(t)) return std::unexpected(std::move(*err));
          continue;
        }
      }
      if (in_top_header) {
        header_bytes += line.size() + 1;
        if (header_bytes > limits_.max_header_bytes) {
          return std::unexpected(parse_error{parse_errc::too_large, "header section over max_header_bytes"});
        }
        if (line.empty()) in_top_header = false;
        // mimetic keeps header text in C strings: a NUL would silently cut the field short.
        if (line.find('\0') == std::string_view::npos) {
          out.append(line);
        } else {
          for (char c : line) {
            if (c != '\0') out.push_back(c);
          }
        }
        out.push_back('\n');
        if (auto err = scan_line(line)) return std::unexpected(std::move(*err));
        continue;
      }
      // Each chunk becomes a line of its own, for mimetic and for the nesting scan alike.
      std::size_t off = 0;
      do {
        const std::string_view chunk = line.substr(off, max_body_line);
        out.append(chunk);
        out.push_back('\n');
        if (auto err = scan_line(chunk)) return std::unexpected(std::move(*err));
        off += max_body_line;
      } while (off < line.size());
    }
    if (auto err = finish_content_type()) return std::unexpected(std::move(*err));
    return out;
  }

 private:
  std::optional<parse_error> scan_line(std::string_view line) {
    if (collecting_) {
      if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
        if (pending_ct_.size() < max_content_type_bytes) pending_ct_.append(line);
        return std::nullopt;
      }
      if (auto err = finish_content_type()) return err;
    }
    if (line.size() >= 2 && line[0] == '-' && line[1] == '-' && !stack_.empty()) {
      // RFC 2046 §5.1.1: a delimiter of an enclosing multipart also ends everything inside it.
      for (std::size_t k = stack_.size(); k-- > 0;) {
        const open_level& level = stack_[k];
        if (level.is_message || !line.starts_with(level.marker)) continue;
        const bool closing = line.substr(level.marker.size()).starts_with("--");
        stack_.resize(closing ? k : k + 1);
        if (!closing && ++parts_ > limits_.max_parts) {
          return parse_error{parse_errc::too_many_parts, "more than max_parts body parts"};
        }
        break;
      }
      return std::nullopt;
    }
    if (detail::istarts_with(line, "content-type")) {
      std::string_view rest = line.substr(12);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      if (rest.starts_with(':')) {
        collecting_ = true;
        pending_ct_.assign(rest.substr(1, max_content_type_bytes));
      }
    }
    return std::nullopt;
  }

  // Evaluates a complete Content-Type with mimetic's own parser, so the boundary the pre-scan
  // tracks is exactly the one mimetic will use.
  std::optional<parse_error> finish_content_type() {
    if (!collecting_) return std::nullopt;
    collecting_ = false;
    if (!may_nest(pending_ct_)) return std::nullopt;
    const mimetic::ContentType ct{std::string(detail::trim(pending_ct_))};  // it rejects leading blanks
    if (ct.isMultipart()) {
      stack_.push_back(open_level{"--" + ct.param("boundary"), false});
    } else if (detail::iequals(ct.type(), "message") && detail::iequals(ct.subtype(), "rfc822")) {
      stack_.push_back(open_level{{}, true});
      if (++parts_ > limits_.max_parts) {
        return parse_error{parse_errc::too_many_parts, "more than max_parts body parts"};
      }
    } else {
      return std::nullopt;
    }
    if (stack_.size() > limits_.max_mime_depth) {
      return parse_error{parse_errc::too_deep, "MIME nesting deeper than max_mime_depth"};
    }
    return std::nullopt;
  }

  const parse_limits& limits_;
  std::vector<open_level> stack_;
  std::string pending_ct_;
  bool collecting_ = false;
  std::size_t parts_ = 0;
};

std::size_t count_entities(const mimetic::MimeEntity& e, std::size_t depth) {
  std::size_t n = 1;
  if (depth > 64) return n;
  for (const mimetic::MimeEntity* child : e.body().parts()) {
    if (child != nullptr) n += count_entities(*child, depth + 1);
  }
  return n;
}

// Whether a header has a field, by a plain ASCII compare: mimetic's hasField() builds a
// std::string per call and its find_by_name upper-cases both names through toupper() for
// every field (together ~10% of parse time in callgrind).
bool has_field(const mimetic::Header& h, std::string_view name) noexcept {
  for (const mimetic::Field& f : h) {
    const auto& n = f.name();
    if (detail::iequals(std::string_view(n.data(), n.size()), name)) return true;
  }
  return false;
}

struct media_type {
  std::string type;
  std::string subtype;
};

media_type type_of(const mimetic::MimeEntity& e) {
  const mimetic::Header& h = e.header();
  if (!has_field(h, "Content-Type")) return {"text", "plain"};  // RFC 2045 §5.2 default
  const mimetic::ContentType& ct = h.contentType();
  media_type t{lower(ct.type()), lower(ct.subtype())};
  if (t.type.empty()) return {"text", "plain"};
  return t;
}

bool is_attachment(const mimetic::MimeEntity& e) {
  const mimetic::Header& h = e.header();
  if (!has_field(h, "Content-Disposition")) return false;
  return detail::iequals(detail::trim(h.contentDisposition().type()), "attachment");
}

// Finds the human-readable part: first text/plain, else first text/html (not attachments).
// Messages nested as message/rfc822 are only searched when the outer message has no text.
class body_finder {
 public:
  body_finder(parsed_message& m, std::size_t max_depth) : msg_(m), max_depth_(max_depth) {}

  void find(const mimetic::MimeEntity& top) {
    scan(top, 0, true);
    for (std::size_t i = 0; i < nested_.size() && plain_ == nullptr && html_ == nullptr; ++i) {
      scan(*nested_[i].first, nested_[i].second, true);
    }
  }

  const mimetic::MimeEntity* plain() const noexcept { return plain_; }
  const mimetic::MimeEntity* html() const noexcept { return html_; }

 private:
  void scan(const mimetic::MimeEntity& e, std::size_t depth, bool is_root) {
    if (depth > max_depth_ || plain_ != nullptr) return;
    const media_type t = type_of(e);
    const auto& parts = e.body().parts();
    if (t.type == "multipart") {
      if (parts.empty()) {
        add_defect(msg_, e.header().contentType().param("boundary").empty()
                             ? "missing boundary in multipart/" + t.subtype
                             : "multipart/" + t.subtype + " without parts");
        return;
      }
      for (const mimetic::MimeEntity* child : parts) {
        if (child != nullptr) scan(*child, depth + 1, false);
        if (t.subtype == "report") break;  // RFC 6522 §3: the first part is for humans
      }
      return;
    }
    if (t.type == "message" && t.subtype == "rfc822") {
      if (parts.empty() || parts.front() == nullptr) return;
      if (is_root) {
        scan(*parts.front(), depth + 1, false);
      } else {
        nested_.emplace_back(parts.front(), depth + 1);
      }
      return;
    }
    if (t.type != "text" || is_attachment(e)) return;
    if (t.subtype == "plain" && plain_ == nullptr) plain_ = &e;
    if (t.subtype == "html" && html_ == nullptr) html_ = &e;
  }

  parsed_message& msg_;
  std::size_t max_depth_;
  const mimetic::MimeEntity* plain_ = nullptr;
  const mimetic::MimeEntity* html_ = nullptr;
  std::vector<std::pair<const mimetic::MimeEntity*, std::size_t>> nested_;
};

// Undoes the Content-Transfer-Encoding (RFC 2045 §6).
std::string decode_transfer_encoding(const mimetic::MimeEntity& e, parsed_message& m) {
  const std::string& body = e.body();
  const mimetic::Header& h = e.header();
  if (!has_field(h, "Content-Transfer-Encoding")) return body;
  const std::string cte = lower(detail::trim(h.contentTransferEncoding().mechanism()));
  if (cte == "base64") {
    // 8-bit bytes cannot be base64: the body was decoded on the way (some archives do that).
    if (!detail::is_ascii(body)) {
      add_defect(m, "invalid base64: 8-bit body used as is");
      return body;
    }
    bool invalid = false;
    std::string out = detail::base64_decode(body, invalid);
    if (invalid) add_defect(m, "invalid base64");
    return out;
  }
  if (cte == "quoted-printable") return detail::qp_decode(body);
  if (cte != "7bit" && cte != "8bit" && cte != "binary" && !cte.empty()) {
    add_defect(m, "unknown transfer encoding " + cte.substr(0, 64));
  }
  return body;
}

// CRLF and CR to LF, NUL dropped: later stages work on lines.
void normalize_text(std::string& s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\0') continue;
    if (c == '\r') {
      s[w++] = '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
      continue;
    }
    s[w++] = c;
  }
  s.resize(w);
}

void extract_body(const mimetic::MimeEntity& top, parsed_message& m, const parse_limits& limits) {
  body_finder finder(m, limits.max_mime_depth + 2);
  finder.find(top);
  const mimetic::MimeEntity* part = finder.plain() != nullptr ? finder.plain() : finder.html();
  if (part == nullptr) return;
  const bool html = part == finder.html();

  std::string bytes = decode_transfer_encoding(*part, m);
  // HTML shrinks a lot when its tags go, so it may read more before the cut.
  const std::size_t cap = html ? limits.max_body_text_bytes * 4 : limits.max_body_text_bytes;
  if (bytes.size() > cap) bytes.resize(cap);

  const std::string& label = part->header().contentType().param("charset");
  detail::converted_text text = detail::convert_to_utf8(bytes, label);
  if (!text.label_known) add_defect(m, "unknown charset " + lower(detail::trim(label)).substr(0, 64));
  if (text.relabelled) {
    add_defect(m, "charset " + lower(detail::trim(label)).substr(0, 64) + " does not fit, decoded as " + text.charset);
  }
  m.body_charset = std::move(text.charset);
  normalize_text(text.text);
  m.body_text = html ? html_to_text(text.text) : std::move(text.text);
  detail::truncate_utf8(m.body_text, limits.max_body_text_bytes);
  m.new_text = strip_quotes_and_signature(m.body_text);
}

std::string field_name(const mimetic::Field& f) {
  std::string name(f.name());
  detail::sanitize_header_text(name);
  return name;
}

void extract_headers(const mimetic::MimeEntity& top, parsed_message& m) {
  const mimetic::Header& h = top.header();
  m.headers.reserve(h.size());
  bool seen_subject = false;
  bool seen_from = false;
  bool seen_reply_to = false;
  bool seen_message_id = false;
  bool seen_in_reply_to = false;
  bool seen_references = false;
  for (const mimetic::Field& f : h) {
    std::string name = field_name(f);
    const std::string raw = f.value();
    std::string value = decode_header_value(raw);
    if (detail::iequals(name, "subject")) {
      if (!seen_subject) m.subject = value;
      seen_subject = true;
    } else if (detail::iequals(name, "from")) {
      if (!seen_from) {
        auto boxes = detail::parse_address_list(raw);
        if (!boxes.empty()) m.from = std::move(boxes.front());
      }
      seen_from = true;
    } else if (detail::iequals(name, "reply-to")) {
      if (!seen_reply_to) {
        auto boxes = detail::parse_address_list(raw);
        if (!boxes.empty()) m.reply_to = std::move(boxes.front());
      }
      seen_reply_to = true;
    } else if (detail::iequals(name, "to") || detail::iequals(name, "cc")) {
      auto boxes = detail::parse_address_list(raw);
      auto& dest = detail::iequals(name, "to") ? m.to : m.cc;
      dest.insert(dest.end(), std::make_move_iterator(boxes.begin()), std::make_move_iterator(boxes.end()));
    } else if (detail::iequals(name, "message-id")) {
      if (!seen_message_id) {
        auto ids = detail::parse_msg_ids(raw);
        if (!ids.empty()) m.message_id = std::move(ids.front());
      }
      seen_message_id = true;
    } else if (detail::iequals(name, "in-reply-to")) {
      if (!seen_in_reply_to) {
        auto ids = detail::parse_msg_ids(raw);
        if (!ids.empty()) m.in_reply_to = std::move(ids.front());
      }
      seen_in_reply_to = true;
    } else if (detail::iequals(name, "references")) {
      if (!seen_references) m.references = detail::parse_msg_ids(raw);
      seen_references = true;
    } else if (detail::iequals(name, "return-path")) {
      if (!m.return_path) {
        // RFC 5321 §4.4: "<>" is the null reverse-path of a bounce.
        auto boxes = detail::parse_address_list(raw);
        m.return_path = boxes.empty() ? std::string() : std::move(boxes.front().address);
      }
    }
    m.headers.push_back(header_field{std::move(name), std::move(value)});
  }
  if (has_field(h, "Content-Type")) {
    const mimetic::ContentType& ct = h.contentType();
    m.content_type = lower(ct.type()) + "/" + lower(ct.subtype());
    detail::sanitize_header_text(m.content_type);
    if (m.content_type == "/") m.content_type = "text/plain";
  } else {
    m.content_type = "text/plain";
  }
}

std::expected<parsed_message, parse_error> parse_checked(std::string_view raw, const parse_limits& limits) {
  if (raw.size() > limits.max_message_bytes) {
    return std::unexpected(parse_error{parse_errc::too_large, "message over max_message_bytes"});
  }
  auto normalized = prescanner(limits).run(raw);
  if (!normalized) return std::unexpected(std::move(normalized.error()));
  const std::string& text = *normalized;

  mimetic::MimeEntity top(byte_iterator(text.data()), byte_iterator(text.data() + text.size()));
  if (top.header().empty()) {
    return std::unexpected(parse_error{parse_errc::no_headers, "no header fields"});
  }
  if (count_entities(top, 0) > limits.max_parts + 1) {
    return std::unexpected(parse_error{parse_errc::too_many_parts, "more than max_parts body parts"});
  }
  parsed_message m;
  extract_headers(top, m);
  extract_body(top, m, limits);
  return m;
}

}  // namespace

std::optional<std::string_view> parsed_message::header(std::string_view name) const {
  for (const auto& f : headers) {
    if (detail::iequals(f.name, name)) return std::string_view(f.value);
  }
  return std::nullopt;
}

bool parsed_message::has_header(std::string_view name) const { return header(name).has_value(); }

std::expected<parsed_message, parse_error> parse_message(std::string_view raw, const parse_limits& limits) {
  try {
    return parse_checked(raw, limits);
  } catch (const std::exception& e) {  // mimetic throws std::length_error on some malformed parts
    return std::unexpected(parse_error{parse_errc::internal, e.what()});
  } catch (...) {
    return std::unexpected(parse_error{parse_errc::internal, "unknown exception"});
  }
}

}  // namespace supportd::mime
