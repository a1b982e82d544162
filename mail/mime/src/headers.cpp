// Header values: RFC 2047 encoded-words, address lists, message ids.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "detail/charset.hpp"
#include "detail/codec.hpp"
#include "detail/headers.hpp"
#include "supportd/mime/message.hpp"

namespace supportd::mime {
namespace detail {
namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// One parsed encoded-word "=?charset?enc?text?=" (RFC 2047 §2).
struct encoded_word {
  std::size_t end = 0;  // offset just past "?="
  std::string_view charset;
  std::string bytes;  // decoded octets, still in `charset`
};

// Parses an encoded-word starting at `pos` (which holds "=?"). False if malformed, so the caller
// keeps the text as it is.
bool parse_encoded_word(std::string_view s, std::size_t pos, encoded_word& w) {
  const std::size_t cs_begin = pos + 2;
  // Every search is bounded by the next '?' or blank, so hostile "=?=?=?..." stays linear.
  // (A loop: find_first_of() with a set calls memchr once per character.)
  constexpr auto find_stop = [](std::string_view t, std::size_t from) {
    for (std::size_t i = from; i < t.size(); ++i) {
      const char c = t[i];
      if (c == '?' || c == ' ' || c == '\t' || c == '\r' || c == '\n') return i;
    }
    return std::string_view::npos;
  };
  const std::size_t cs_len = find_stop(s.substr(cs_begin, 65), 0);
  if (cs_len == std::string_view::npos || cs_len == 0) return false;
  const std::size_t q1 = cs_begin + cs_len;
  if (s[q1] != '?' || q1 + 3 > s.size() || s[q1 + 2] != '?') return false;
  const char enc = s[q1 + 1];
  const std::size_t text_begin = q1 + 3;
  const std::size_t q2 = find_stop(s, text_begin);
  if (q2 == std::string_view::npos || s[q2] != '?' || q2 + 1 >= s.size() || s[q2 + 1] != '=') return false;
  std::string_view charset = s.substr(cs_begin, q1 - cs_begin);
  std::string_view text = s.substr(text_begin, q2 - text_begin);
  // RFC 2231 §5: "charset*language".
  if (const auto star = charset.find('*'); star != std::string_view::npos) charset = charset.substr(0, star);
  if (enc == 'B' || enc == 'b') {
    bool invalid = false;
    w.bytes = base64_decode(text, invalid);
    if (invalid) return false;
  } else if (enc == 'Q' || enc == 'q') {
    if (!q_decode(text, w.bytes)) return false;
  } else {
    return false;
  }
  w.charset = charset;
  w.end = q2 + 2;
  return true;
}

void append_raw(std::string& out, std::string_view raw) {
  if (is_ascii(raw)) {
    out.append(raw);
  } else {
    out += guess_to_utf8(raw).text;  // raw 8-bit header bytes: old clients wrote their locale
  }
}

// `s` trimmed and without its quoting; a view of `s` when it has no quotes, else of `storage`.
std::string_view unquote(std::string_view s, std::string& storage) {
  s = trim(s);
  if (s.find('"') == std::string_view::npos) return s;  // nothing to unquote
  storage.clear();
  storage.reserve(s.size());
  bool in_quote = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      in_quote = !in_quote;
    } else if (c == '\\' && in_quote && i + 1 < s.size()) {
      storage.push_back(s[++i]);
    } else {
      storage.push_back(c);
    }
  }
  return storage;
}

// `s` without its (comments); a view of `s` when it has none, else of `storage`.
std::string_view strip_comments(std::string_view s, std::string& storage, std::string* comment_text) {
  if (s.find('(') == std::string_view::npos) return s;  // nothing to strip
  storage.clear();
  int depth = 0;
  bool in_quote = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (depth == 0 && c == '"') in_quote = !in_quote;
    if (!in_quote && c == '(') {
      ++depth;
      if (depth == 1) continue;
    } else if (!in_quote && c == ')' && depth > 0) {
      --depth;
      if (depth == 0) continue;
    }
    if (depth > 0) {
      if (comment_text != nullptr) comment_text->push_back(c);
    } else {
      storage.push_back(c);
    }
  }
  return storage;
}

// Cleans an addr-spec: drops whitespace and an obsolete route, lower-cases the domain.
std::string normalize_address(std::string_view a) {
  std::string out(a);
  std::erase_if(out, [](char c) { return is_space(c) || c == '<' || c == '>'; });
  if (!out.empty() && out.front() == '@') {  // RFC 5322 §4.4 obs-route "@a,@b:"
    const auto colon = out.find(':');
    out = colon == std::string::npos ? std::string() : out.substr(colon + 1);
  }
  const auto at = out.rfind('@');
  if (at != std::string::npos) {
    for (std::size_t i = at + 1; i < out.size(); ++i) {
      if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<char>(out[i] - 'A' + 'a');
    }
    if (at == 0 || at + 1 == out.size()) return {};
  }
  return out;
}

std::string decode_display_name(std::string_view raw) {
  std::string unquoted;
  const std::string_view u = unquote(raw, unquoted);
  std::string decoded;
  // decode_header_value() changes nothing in plain text: no copy for the common name.
  const std::string_view name = is_plain_header_text(u) ? u : std::string_view(decoded = decode_header_value(u));
  std::string_view t = trim(name);
  // Some clients quote the name twice or wrap it in quotes inside an encoded-word.
  while (t.size() >= 2 && ((t.front() == '"' && t.back() == '"') || (t.front() == '\'' && t.back() == '\''))) {
    t = trim(t.substr(1, t.size() - 2));
  }
  return std::string(t);
}

std::optional<mailbox> parse_one_mailbox(std::string_view entry) {
  entry = trim(entry);
  if (entry.empty()) return std::nullopt;
  // Find a top-level '<' (outside quotes and comments).
  bool in_quote = false;
  int depth = 0;
  std::size_t lt = std::string_view::npos;
  for (std::size_t i = 0; i < entry.size(); ++i) {
    const char c = entry[i];
    if (c == '\\' && in_quote) {
      ++i;
    } else if (c == '"' && depth == 0) {
      in_quote = !in_quote;
    } else if (!in_quote && c == '(') {
      ++depth;
    } else if (!in_quote && c == ')' && depth > 0) {
      --depth;
    } else if (!in_quote && depth == 0 && c == '<') {
      lt = i;
      break;
    }
  }
  mailbox mb;
  if (lt != std::string_view::npos) {
    const auto gt = entry.find('>', lt);
    const std::string_view addr = entry.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
    std::string storage;
    mb.address = normalize_address(strip_comments(addr, storage, nullptr));
    mb.name = decode_display_name(strip_comments(entry.substr(0, lt), storage, nullptr));
  } else {
    std::string comment;
    std::string bare;
    const std::string_view b = trim(strip_comments(entry, bare, &comment));
    if (b.find('@') == std::string_view::npos && std::any_of(b.begin(), b.end(), is_space)) {
      mb.name = decode_display_name(b);  // a name without any address: unparseable
    } else {
      std::string unquoted;
      mb.address = normalize_address(unquote(b, unquoted));
      mb.name = decode_display_name(comment);
    }
  }
  if (mb.address.empty() && mb.name.empty()) return std::nullopt;
  return mb;
}

}  // namespace

bool needs_decoding(std::string_view value) noexcept {
  // Most fields (Received, Date, addresses) hold neither encoded-words nor 8-bit bytes.
  return ascii_prefix(value) != value.size() || value.find("=?") != std::string_view::npos;
}

namespace {

// Offset of the first C0 control or DEL (with `stop_at_8bit`, also of the first 8-bit byte), or
// the size: eight bytes at a time, since it runs over every header value.
template <bool stop_at_8bit>
std::size_t clean_prefix(std::string_view s) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high = 0x8080808080808080ULL;
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, s.data() + i, sizeof w);
    const std::uint64_t below_space = (w - ones * 0x20) & ~w & high;  // a byte < 0x20
    const std::uint64_t del = w ^ (ones * 0x7F);
    const std::uint64_t is_del = (del - ones) & ~del & high;  // a byte == 0x7F
    if (((stop_at_8bit ? w & high : 0) | below_space | is_del) != 0) break;
  }
  for (; i < s.size(); ++i) {
    const auto uc = static_cast<unsigned char>(s[i]);
    if (uc < 0x20 || uc == 0x7F || (stop_at_8bit && uc > 0x7F)) return i;
  }
  return s.size();
}

}  // namespace

bool is_plain_header_text(std::string_view value) noexcept {
  return clean_prefix<true>(value) == value.size() && value.find("=?") == std::string_view::npos;
}

void sanitize_header_text(std::string& s) {
  // Almost every value is clean: find the first control character before rewriting anything.
  if (clean_prefix<false>(s) == s.size()) return;
  std::size_t w = 0;
  for (char c : s) {
    const auto uc = static_cast<unsigned char>(c);
    if (c == '\r' || c == '\n' || c == '\t') {
      s[w++] = ' ';
    } else if (uc < 0x20 || uc == 0x7F) {
      continue;  // NUL and other controls
    } else {
      s[w++] = c;
    }
  }
  s.resize(w);
}

std::vector<mailbox> parse_address_list(std::string_view raw) {
  std::vector<mailbox> out;
  std::string pending_name;  // "Doe, John <j@x>" written without quotes splits at the comma
  // Each entry in turn, as the split below finds it.
  auto on_entry = [&](std::string_view e) {
    e = trim(e);
    if (e.empty()) return;
    const bool has_addr = e.find('@') != std::string_view::npos || e.find('<') != std::string_view::npos;
    if (!has_addr && std::any_of(e.begin(), e.end(), [](char c) { return c == ' ' || c == '"' || static_cast<unsigned char>(c) >= 0x80; }) &&
        pending_name.size() < 256) {
      if (!pending_name.empty()) pending_name += ", ";
      pending_name.append(e);
      return;
    }
    std::optional<mailbox> mb;
    if (!pending_name.empty() && e.find('<') != std::string_view::npos) {
      std::string joined = pending_name + ", " + std::string(e);
      mb = parse_one_mailbox(joined);
    } else {
      if (!pending_name.empty()) {
        if (auto lone = parse_one_mailbox(pending_name)) out.push_back(std::move(*lone));
      }
      mb = parse_one_mailbox(e);
    }
    pending_name.clear();
    if (mb) out.push_back(std::move(*mb));
  };

  // Split at top-level ',' and group delimiters ':' / ';' (RFC 5322 §3.4).
  bool in_quote = false;
  bool in_angle = false;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (in_quote) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_quote = false;
      }
      continue;
    }
    if (depth > 0) {
      if (c == '(') ++depth;
      if (c == ')') --depth;
      continue;
    }
    switch (c) {
      case '"': in_quote = true; break;
      case '(': depth = 1; break;
      case '<': in_angle = true; break;
      case '>': in_angle = false; break;
      case ':':
        if (!in_angle) start = i + 1;  // group display name: dropped
        break;
      case ',':
      case ';':
        if (!in_angle) {
          on_entry(raw.substr(start, i - start));
          start = i + 1;
        }
        break;
      default: break;
    }
  }
  on_entry(raw.substr(start));
  if (!pending_name.empty()) {
    if (auto lone = parse_one_mailbox(pending_name)) out.push_back(std::move(*lone));
  }
  return out;
}

std::vector<std::string> parse_msg_ids(std::string_view raw) {
  std::vector<std::string> ids;
  std::size_t pos = 0;
  while (true) {
    const auto lt = raw.find('<', pos);
    if (lt == std::string_view::npos) break;
    const auto gt = raw.find('>', lt + 1);
    if (gt == std::string_view::npos) break;
    std::string id(raw.substr(lt + 1, gt - lt - 1));
    std::erase_if(id, [](char c) { return is_space(c) || static_cast<unsigned char>(c) < 0x20; });
    if (!id.empty()) ids.push_back(std::move(id));
    pos = gt + 1;
  }
  if (ids.empty()) {
    // Some mailers omit the brackets: take the first word if it looks like an id.
    std::string stripped;  // t must not outlive it
    std::string_view t = trim(strip_comments(raw, stripped, nullptr));
    t = t.substr(0, std::min(t.size(), t.find_first_of(" \t\r\n")));
    if (t.find('@') != std::string_view::npos) ids.emplace_back(t);
  }
  return ids;
}

}  // namespace detail

namespace detail {

std::string decode_header_text(std::string&& value) {
  if (is_plain_header_text(value)) return std::move(value);  // the usual field: nothing to do
  if (!needs_decoding(value)) {
    sanitize_header_text(value);
    return std::move(value);
  }
  return decode_header_value(value);
}

}  // namespace detail

std::string decode_header_value(std::string_view value) {
  if (!detail::needs_decoding(value)) {
    std::string out(value);
    detail::sanitize_header_text(out);
    return out;
  }
  std::string out;
  std::string pending_bytes;       // adjacent same-charset words, decoded together (RFC 2047 §6.2)
  std::string_view pending_charset;
  auto flush = [&] {
    if (!pending_bytes.empty()) {
      detail::converted_text text = detail::convert_to_utf8(pending_bytes, pending_charset);
      if (out.empty()) {
        out = std::move(text.text);  // the usual value: one run of encoded words
      } else {
        out += text.text;
      }
    }
    pending_bytes.clear();
    pending_charset = {};
  };

  bool last_was_word = false;
  std::size_t pos = 0;
  detail::encoded_word w;
  while (pos < value.size()) {
    std::size_t start = value.find("=?", pos);
    while (start != std::string_view::npos && !detail::parse_encoded_word(value, start, w)) {
      start = value.find("=?", start + 2);
    }
    const std::string_view between =
        value.substr(pos, start == std::string_view::npos ? std::string_view::npos : start - pos);
    const bool only_space = detail::trim(between).empty();
    // RFC 2047 §6.2: whitespace between adjacent encoded-words is not displayed.
    if (!(last_was_word && only_space && start != std::string_view::npos)) {
      flush();
      detail::append_raw(out, between);
    }
    if (start == std::string_view::npos) break;
    if (!pending_bytes.empty() && !detail::iequals(pending_charset, w.charset)) flush();
    pending_charset = w.charset;
    if (pending_bytes.empty()) {
      pending_bytes.swap(w.bytes);
    } else {
      pending_bytes += w.bytes;
    }
    last_was_word = true;
    pos = w.end;
  }
  flush();
  detail::sanitize_header_text(out);
  return out;
}

}  // namespace supportd::mime
