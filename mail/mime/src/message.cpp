// parse_message: a raw RFC 5322 message to decoded UTF-8 fields and body text.
//
// A port of mimetic's parser splits header and structure into mimetic's entity tree
// (detail/structure.hpp). Before it runs, one pass over the bytes normalises line endings,
// enforces the limits and measures MIME nesting, because the parser recurses once per level,
// as mimetic's does, and would overflow the stack on hostile input.

#include "supportd/mime/message.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <exception>
#include <iterator>
#include <string>
#include <vector>

#include <mimetic/mimeentity.h>

#include "detail/charset.hpp"
#include "detail/codec.hpp"
#include "detail/headers.hpp"
#include "detail/structure.hpp"

namespace supportd::mime {
namespace {

constexpr std::size_t max_defects = 32;
// After the top-level header, longer lines are split: mimetic grows its header buffers 128 bytes
// at a time, so a multi-megabyte line where it expects a part header would cost quadratic time.
constexpr std::size_t max_body_line = 32 * 1024;
constexpr std::size_t max_content_type_bytes = 8 * 1024;

void add_defect(parsed_message& m, std::string text) {
  if (m.defects.size() < max_defects) m.defects.push_back(std::move(text));
}

std::string lower(std::string_view s) {
  std::string out(s);
  detail::ascii_lower(out);
  return out;
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
    const bool raw_has_nul = std::memchr(raw.data(), '\0', raw.size()) != nullptr;
    bool in_top_header = true;
    std::size_t header_bytes = 0;
    std::size_t pos = 0;
    bool first_line = true;
    while (pos < raw.size()) {
      std::size_t eol = detail::find_line_end(raw, pos);
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
        if (!raw_has_nul || line.find('\0') == std::string_view::npos) {
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
    if (!line.empty() && (line.front() | 0x20) == 'c' && detail::istarts_with(line, "content-type")) {
      std::string_view rest = line.substr(12);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      if (rest.starts_with(':')) {
        collecting_ = true;
        pending_ct_.assign(rest.substr(1, max_content_type_bytes));
      }
    }
    return std::nullopt;
  }

  // Evaluates a complete Content-Type as mimetic parses it, so the boundary the pre-scan tracks
  // is exactly the one the structure parser will use.
  std::optional<parse_error> finish_content_type() {
    if (!collecting_) return std::nullopt;
    collecting_ = false;
    if (!may_nest(pending_ct_)) return std::nullopt;
    const mimetic::ContentType ct = detail::parse_content_type(detail::trim(pending_ct_));
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

// A header's first field with this name, by a plain ASCII compare: mimetic's hasField() and
// its typed getters build a std::string per call and upper-case both names through toupper()
// for every field they pass (together ~10% of parse time in callgrind).
const mimetic::Field* find_field(const mimetic::Header& h, std::string_view name) noexcept {
  for (const mimetic::Field& f : h) {
    const auto& n = f.name();
    if (detail::iequals(std::string_view(n.data(), n.size()), name)) return &f;
  }
  return nullptr;
}

struct media_type {
  std::string type;
  std::string subtype;
};

media_type type_of(const mimetic::ContentType* ct) {
  if (ct == nullptr) return {"text", "plain"};  // RFC 2045 §5.2 default
  media_type t{lower(ct->type()), lower(ct->subtype())};
  if (t.type.empty()) return {"text", "plain"};
  return t;
}

bool is_attachment(const mimetic::MimeEntity& e) {
  const mimetic::Header& h = e.header();
  if (find_field(h, "Content-Disposition") == nullptr) return false;
  return detail::iequals(detail::trim(h.contentDisposition().type()), "attachment");
}

// Finds the human-readable part: first text/plain, else first text/html (not attachments).
// Messages nested as message/rfc822 are only searched when the outer message has no text.
class body_finder {
 public:
  body_finder(parsed_message& m, const detail::part_index& index, std::size_t max_depth)
      : msg_(m), index_(index), max_depth_(max_depth) {}

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
    const mimetic::ContentType* ct = index_.content_type(e);
    const media_type t = type_of(ct);
    const auto& parts = e.body().parts();
    if (t.type == "multipart") {
      if (parts.empty()) {
        add_defect(msg_, ct->param("boundary").empty() ? "missing boundary in multipart/" + t.subtype
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
  const detail::part_index& index_;
  std::size_t max_depth_;
  const mimetic::MimeEntity* plain_ = nullptr;
  const mimetic::MimeEntity* html_ = nullptr;
  std::vector<std::pair<const mimetic::MimeEntity*, std::size_t>> nested_;
};

// Undoes the Content-Transfer-Encoding (RFC 2045 §6). The result is `body` itself when there
// is nothing to decode, else the decoded bytes held in `storage`.
std::string_view decode_transfer_encoding(const mimetic::MimeEntity& e, std::string_view body,
                                          std::string& storage, parsed_message& m) {
  const mimetic::Field* f = find_field(e.header(), "Content-Transfer-Encoding");
  if (f == nullptr) return body;
  // What mimetic's contentTransferEncoding().mechanism() returns: the field's text.
  const std::string cte = lower(detail::trim(f->value()));
  if (cte == "base64") {
    // 8-bit bytes cannot be base64: the body was decoded on the way (some archives do that).
    if (!detail::is_ascii(body)) {
      add_defect(m, "invalid base64: 8-bit body used as is");
      return body;
    }
    bool invalid = false;
    storage = detail::base64_decode(body, invalid);
    if (invalid) add_defect(m, "invalid base64");
    return storage;
  }
  if (cte == "quoted-printable") {
    storage = detail::qp_decode(body);
    return storage;
  }
  if (cte != "7bit" && cte != "8bit" && cte != "binary" && !cte.empty()) {
    add_defect(m, "unknown transfer encoding " + cte.substr(0, 64));
  }
  return body;
}

// CRLF and CR to LF, NUL dropped: later stages work on lines.
void normalize_text(std::string& s) {
  if (std::memchr(s.data(), '\r', s.size()) == nullptr && std::memchr(s.data(), '\0', s.size()) == nullptr) {
    return;  // the usual case: the text was LF-only already
  }
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

void extract_body(const mimetic::MimeEntity& top, const detail::part_index& index, parsed_message& m,
                  const parse_limits& limits) {
  body_finder finder(m, index, limits.max_mime_depth + 2);
  finder.find(top);
  const mimetic::MimeEntity* part = finder.plain() != nullptr ? finder.plain() : finder.html();
  if (part == nullptr) return;
  const bool html = part == finder.html();

  std::string decoded;
  std::string_view bytes = decode_transfer_encoding(*part, index.body(*part), decoded, m);
  // HTML shrinks a lot when its tags go, so it may read more before the cut.
  const std::size_t cap = html ? limits.max_body_text_bytes * 4 : limits.max_body_text_bytes;
  bytes = bytes.substr(0, cap);

  const mimetic::ContentType* ct = index.content_type(*part);
  static const std::string no_label;
  const std::string& label = ct != nullptr ? ct->param("charset") : no_label;
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

// The fields parse_message reads for itself; the rest are only decoded.
enum class known_field { other, subject, from, reply_to, to, cc, message_id, in_reply_to, references, return_path };

known_field classify_field(std::string_view name) noexcept {
  static constexpr std::array<std::pair<std::string_view, known_field>, 9> names{{
      {"subject", known_field::subject},
      {"from", known_field::from},
      {"reply-to", known_field::reply_to},
      {"to", known_field::to},
      {"cc", known_field::cc},
      {"message-id", known_field::message_id},
      {"in-reply-to", known_field::in_reply_to},
      {"references", known_field::references},
      {"return-path", known_field::return_path},
  }};
  for (const auto& [n, k] : names) {
    if (detail::iequals(name, n)) return k;
  }
  return known_field::other;
}

// The header list is `fields`, decoded in place.
void extract_headers(std::vector<header_field>&& fields, const mimetic::MimeEntity& top,
                     const detail::part_index& index, parsed_message& m) {
  m.headers = std::move(fields);
  // mimetic has parsed the first Content-Type into a ContentType, whose text it gives back
  // re-written ("text/plain; charset=utf-8"); the field list keeps that form.
  bool content_type_seen = false;
  bool seen_subject = false;
  bool seen_from = false;
  bool seen_reply_to = false;
  bool seen_message_id = false;
  bool seen_in_reply_to = false;
  bool seen_references = false;
  for (header_field& f : m.headers) {
    std::string& name = f.name;
    std::string& raw = f.value;
    if (!content_type_seen && detail::iequals(name, "content-type")) {
      content_type_seen = true;
      if (const mimetic::ContentType* ct = index.content_type(top)) raw = detail::content_type_text(*ct);
    }
    // No sanitize_header_text(name): the split keeps only bytes 33..126 in a name (a blank or
    // other byte there ends the header), so a name has no control character to drop.
    const known_field kind = classify_field(name);
    // Structured fields are parsed from the raw text first; then it is decoded in place.
    switch (kind) {
      case known_field::from:
        if (!seen_from) {
          auto boxes = detail::parse_address_list(raw);
          if (!boxes.empty()) m.from = std::move(boxes.front());
        }
        seen_from = true;
        break;
      case known_field::reply_to:
        if (!seen_reply_to) {
          auto boxes = detail::parse_address_list(raw);
          if (!boxes.empty()) m.reply_to = std::move(boxes.front());
        }
        seen_reply_to = true;
        break;
      case known_field::to:
      case known_field::cc: {
        auto boxes = detail::parse_address_list(raw);
        auto& dest = kind == known_field::to ? m.to : m.cc;
        dest.insert(dest.end(), std::make_move_iterator(boxes.begin()), std::make_move_iterator(boxes.end()));
        break;
      }
      case known_field::message_id:
        if (!seen_message_id) {
          auto ids = detail::parse_msg_ids(raw);
          if (!ids.empty()) m.message_id = std::move(ids.front());
        }
        seen_message_id = true;
        break;
      case known_field::in_reply_to:
        if (!seen_in_reply_to) {
          auto ids = detail::parse_msg_ids(raw);
          if (!ids.empty()) m.in_reply_to = std::move(ids.front());
        }
        seen_in_reply_to = true;
        break;
      case known_field::references:
        if (!seen_references) m.references = detail::parse_msg_ids(raw);
        seen_references = true;
        break;
      case known_field::return_path:
        if (!m.return_path) {
          // RFC 5321 §4.4: "<>" is the null reverse-path of a bounce.
          auto boxes = detail::parse_address_list(raw);
          m.return_path = boxes.empty() ? std::string() : std::move(boxes.front().address);
        }
        break;
      case known_field::subject:
      case known_field::other:
        break;
    }
    f.value = detail::decode_header_text(std::move(raw));
    if (kind == known_field::subject) {
      if (!seen_subject) m.subject = f.value;
      seen_subject = true;
    }
  }
  if (const mimetic::ContentType* ct = index.content_type(top)) {
    m.content_type = lower(ct->type()) + "/" + lower(ct->subtype());
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
  const std::string_view message = *normalized;

  detail::top_header header = detail::split_top_header(message);
  if (header.fields.empty()) {
    return std::unexpected(parse_error{parse_errc::no_headers, "no header fields"});
  }
  mimetic::MimeEntity top;
  detail::part_index index;
  detail::parse_structure_after_header(message, header, top, index);
  if (count_entities(top, 0) > limits.max_parts + 1) {
    return std::unexpected(parse_error{parse_errc::too_many_parts, "more than max_parts body parts"});
  }
  parsed_message m;
  extract_headers(std::move(header.fields), top, index, m);
  extract_body(top, index, m, limits);
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
