#include "supportd/reply/compose.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

#include "detail/text.hpp"

namespace supportd::reply {

namespace {

// RFC 5322 §2.1.1: lines SHOULD be at most 78 characters and MUST be at most 998.
constexpr std::size_t soft_line_limit = 78;
constexpr std::size_t hard_line_limit = 998;
// RFC 2047 §2: an encoded-word is at most 75 characters. "=?utf-8?B?" + "?=" is 12, and 42 raw
// bytes give 56 base64 characters: a 68-character word, which still fits "Subject: " + word in
// 78 columns.
constexpr std::size_t encoded_word_raw_bytes = 42;
// RFC 5322 §3.6.4 leaves trimming of long References to the writer; keep the thread root
// (first id) and the most recent ones.
constexpr std::size_t max_recent_references = 10;
// RFC 5321 §4.5.3.1.3 caps a path at 256 octets; anything far longer is garbage, not an id.
constexpr std::size_t max_id_length = 250;

constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

[[nodiscard]] unsigned byte_of(char c) { return static_cast<unsigned char>(c); }

[[nodiscard]] std::string base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (byte_of(in[i]) << 16U) | (byte_of(in[i + 1]) << 8U) | byte_of(in[i + 2]);
    out += base64_alphabet[(n >> 18U) & 63U];
    out += base64_alphabet[(n >> 12U) & 63U];
    out += base64_alphabet[(n >> 6U) & 63U];
    out += base64_alphabet[n & 63U];
  }
  if (i + 1 == in.size()) {
    const unsigned n = byte_of(in[i]) << 16U;
    out += base64_alphabet[(n >> 18U) & 63U];
    out += base64_alphabet[(n >> 12U) & 63U];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned n = (byte_of(in[i]) << 16U) | (byte_of(in[i + 1]) << 8U);
    out += base64_alphabet[(n >> 18U) & 63U];
    out += base64_alphabet[(n >> 12U) & 63U];
    out += base64_alphabet[(n >> 6U) & 63U];
    out += '=';
  }
  return out;
}

// Any control character (C0, DEL, C1, U+2028/U+2029) becomes a space, runs of white space
// collapse to one and the ends are trimmed: no input can end a header line early.
[[nodiscard]] std::string sanitize_header_text(std::string_view raw) {
  const std::string s = detail::repair_utf8(raw);
  std::string out;
  out.reserve(s.size());
  const auto push_space = [&out] {
    if (!out.empty() && out.back() != ' ') out += ' ';
  };
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = detail::utf8_sequence_length(s, i);  // >= 1 after repair
    const unsigned b0 = byte_of(s[i]);
    bool control = false;
    if (n == 1) {
      control = b0 < 0x20 || b0 == 0x7F || b0 == ' ';
    } else if (n == 2) {
      control = b0 == 0xC2 && byte_of(s[i + 1]) < 0xA0;  // C1 controls and NEL
    } else if (n == 3) {
      control = b0 == 0xE2 && byte_of(s[i + 1]) == 0x80 &&
                (byte_of(s[i + 2]) == 0xA8 || byte_of(s[i + 2]) == 0xA9);
    }
    if (control) {
      push_space();
    } else {
      out.append(s, i, n);
    }
    i += n;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// A msg-id or addr-spec: no white space, controls, angle brackets or list separators survive.
[[nodiscard]] std::string sanitize_token(std::string_view raw) {
  const std::string s = sanitize_header_text(raw);
  std::string out;
  for (const char c : s) {
    if (c == ' ' || c == '<' || c == '>' || c == ',' || c == ';' || c == '"' || c == '(' ||
        c == ')' || c == '\\') {
      continue;
    }
    out += c;
  }
  return out;
}

// RFC 2047 §2 and §5: B encoded-words of at most 75 characters, split only between whole UTF-8
// sequences (§5: each encoded-word must hold whole characters), separated by single spaces.
[[nodiscard]] std::string encode_words(std::string_view utf8) {
  std::string out;
  std::size_t i = 0;
  while (i < utf8.size()) {
    std::size_t end = i;
    while (end < utf8.size()) {
      const std::size_t n = std::max<std::size_t>(1, detail::utf8_sequence_length(utf8, end));
      if (end + n - i > encoded_word_raw_bytes) break;
      end += n;
    }
    if (end == i) end = i + 1;  // unreachable for repaired UTF-8; guarantees progress
    if (!out.empty()) out += ' ';
    out += "=?utf-8?B?";
    out += base64(utf8.substr(i, end - i));
    out += "?=";
    i = end;
  }
  return out;
}

[[nodiscard]] bool contains_long_word(std::string_view s, std::size_t limit) {
  std::size_t run = 0;
  for (const char c : s) {
    run = c == ' ' ? 0 : run + 1;
    if (run > limit) return true;
  }
  return false;
}

// Unstructured text (RFC 5322 §3.2.5, e.g. Subject): plain when it is printable ASCII that
// cannot be mistaken for an encoded-word and folds within the limits, else encoded-words.
[[nodiscard]] std::string unstructured_value(std::string_view raw) {
  const std::string s = sanitize_header_text(raw);
  if (detail::is_ascii(s) && s.find("=?") == std::string::npos &&
      !contains_long_word(s, soft_line_limit - 12)) {
    return s;
  }
  return encode_words(s);
}

[[nodiscard]] bool is_atext(char c) {
  if (std::isalnum(static_cast<unsigned char>(c)) != 0) return true;
  static constexpr std::string_view extra = "!#$%&'*+-/=?^_`{|}~";
  return extra.find(c) != std::string_view::npos;
}

// A display name as an RFC 5322 §3.2.5 phrase: atoms as they are, a quoted-string when it holds
// specials, encoded-words (RFC 2047 §5(3)) when it is not ASCII.
[[nodiscard]] std::string phrase(std::string_view raw) {
  const std::string s = sanitize_header_text(raw);
  if (!detail::is_ascii(s) || s.find("=?") != std::string::npos ||
      contains_long_word(s, soft_line_limit - 12)) {
    return encode_words(s);
  }
  const bool plain =
      std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || is_atext(c); });
  if (plain) return s;
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

// RFC 5322 §2.2.3: fold by putting CRLF before existing white space. Values are single-spaced,
// so each space is a possible fold point and unfolding restores the value exactly.
[[nodiscard]] std::string fold_header(std::string_view name, std::string_view value) {
  std::string out{name};
  out += ':';
  std::size_t line_len = out.size();
  bool line_has_token = false;
  std::size_t pos = 0;
  while (pos <= value.size() && !value.empty()) {
    std::size_t next = value.find(' ', pos);
    if (next == std::string_view::npos) next = value.size();
    std::string_view token = value.substr(pos, next - pos);
    if (line_has_token && line_len + 1 + token.size() > soft_line_limit) {
      out += "\r\n";
      line_len = 0;
    }
    // Only garbage (a single "word" near 1000 octets) gets here; cut it rather than exceed the
    // MUST limit.
    while (line_len + 1 + token.size() > hard_line_limit) {
      const std::size_t room = hard_line_limit - line_len - 1;
      out += ' ';
      out.append(token.substr(0, room));
      out += "\r\n";
      line_len = 0;
      token.remove_prefix(room);
    }
    out += ' ';
    out.append(token);
    line_len += 1 + token.size();
    line_has_token = true;
    pos = next + 1;
  }
  out += "\r\n";
  return out;
}

// Appended, not "<" + ...: GCC 12 at -O3 warns falsely on that (-Wrestrict, PR 105329).
[[nodiscard]] std::string angle(std::string_view id) { return std::string("<").append(id).append(">"); }

[[nodiscard]] std::string domain_of(std::string_view address) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 == address.size()) return "supportd.invalid";
  return std::string(address.substr(at + 1));
}

[[nodiscard]] std::string generate_message_id(std::string_view from_address) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string rand_part;
  std::uint64_t r = rng();
  for (int i = 0; i < 16; ++i) {
    rand_part += hex[static_cast<std::size_t>(r & 0xfU)];
    r >>= 4U;
  }
  return std::to_string(micros) + "." + rand_part + "@" + domain_of(from_address);
}

[[nodiscard]] std::vector<std::string> reference_ids(const outgoing_message& msg) {
  std::vector<std::string> ids;
  const auto add = [&ids](std::string_view raw) {
    std::string id = sanitize_token(raw);
    if (id.empty() || id.size() > max_id_length) return;
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) return;
    ids.push_back(std::move(id));
  };
  for (const auto& r : msg.references) add(r);
  add(msg.in_reply_to);
  if (ids.size() > max_recent_references + 1) {
    ids.erase(ids.begin() + 1, ids.end() - static_cast<std::ptrdiff_t>(max_recent_references));
  }
  return ids;
}

// ---- body -----------------------------------------------------------------------------------

// UTF-8, "\n" lines, no controls other than TAB, ending in a newline.
[[nodiscard]] std::string clean_body(std::string_view raw) {
  const std::string s = detail::normalize_newlines(detail::repair_utf8(raw));
  std::string out;
  out.reserve(s.size() + 1);
  for (const char c : s) {
    const unsigned b = byte_of(c);
    if ((b < 0x20 && c != '\n' && c != '\t') || b == 0x7F) continue;
    out += c;
  }
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

[[nodiscard]] bool has_long_line(std::string_view body) {
  std::size_t run = 0;
  for (const char c : body) {
    run = c == '\n' ? 0 : run + 1;
    if (run > hard_line_limit) return true;
  }
  return false;
}

[[nodiscard]] std::string crlf_lines(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 40);
  for (const char c : body) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// RFC 2045 §6.7: encoded lines of at most 76 characters, soft breaks "=", trailing white space
// encoded, "=XX" triplets never split.
[[nodiscard]] std::string quoted_printable(std::string_view body) {
  static constexpr std::string_view hex = "0123456789ABCDEF";
  std::string out;
  std::size_t line_len = 0;
  const auto emit = [&](std::string_view piece) {
    if (line_len + piece.size() > 75) {
      out += "=\r\n";
      line_len = 0;
    }
    out.append(piece);
    line_len += piece.size();
  };
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\n') {
      out += "\r\n";
      line_len = 0;
      continue;
    }
    const unsigned b = byte_of(c);
    const bool at_line_end = i + 1 == body.size() || body[i + 1] == '\n';
    const bool literal =
        (b >= 33 && b <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    if (literal) {
      emit(std::string_view(&body[i], 1));
    } else {
      const std::array<char, 3> enc{'=', hex[b >> 4U], hex[b & 0xFU]};
      emit(std::string_view(enc.data(), enc.size()));
    }
  }
  return out;
}

// RFC 2045 §6.8: base64 in lines of 76 characters.
[[nodiscard]] std::string base64_lines(std::string_view body) {
  const std::string crlf = crlf_lines(body);
  const std::string b64 = base64(crlf);
  std::string out;
  for (std::size_t i = 0; i < b64.size(); i += 76) {
    out.append(b64, i, 76);
    out += "\r\n";
  }
  return out;
}

struct encoded_body {
  std::string_view transfer_encoding;
  std::string bytes;
};

// curl 7.88 never sends BODY=8BITMIME (RFC 6152 §3), so 8-bit data is not ours to send: ASCII
// text with lines that fit goes as 7bit, anything else as whichever of quoted-printable (mostly
// Latin text stays readable) or base64 (Chinese text is a third smaller) is shorter.
[[nodiscard]] encoded_body encode_body(std::string_view raw) {
  const std::string body = clean_body(raw);
  if (detail::is_ascii(body) && !has_long_line(body)) return {"7bit", crlf_lines(body)};
  std::string qp = quoted_printable(body);
  std::string b64 = base64_lines(body);
  if (qp.size() <= b64.size()) return {"quoted-printable", std::move(qp)};
  return {"base64", std::move(b64)};
}

[[nodiscard]] std::string lower(std::string_view s) {
  std::string out{s};
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// RFC 5322 §3.6.8 field-name: printable ASCII except ':'.
[[nodiscard]] bool is_field_name(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const unsigned b = byte_of(c);
    return b >= 33 && b <= 126 && c != ':';
  });
}

[[nodiscard]] bool is_own_field(std::string_view name) {
  // Ours, plus Bcc (would disclose hidden recipients) and Return-Path (RFC 5321 §4.4: only the
  // delivering MTA writes it).
  static constexpr std::array<std::string_view, 13> own{
      "from",        "to",         "subject",      "date",         "message-id",
      "in-reply-to", "references", "mime-version", "content-type", "content-transfer-encoding",
      "sender",      "bcc",        "return-path"};
  const std::string l = lower(name);
  return std::find(own.begin(), own.end(), l) != own.end();
}

[[nodiscard]] std::string trim_copy(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

[[nodiscard]] std::string lower_domain(std::string addr) {
  const auto at = addr.rfind('@');
  if (at == std::string::npos) return {};
  if (at == 0 || at + 1 == addr.size()) return {};
  for (std::size_t i = at + 1; i < addr.size(); ++i) {
    addr[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(addr[i])));
  }
  return addr;
}

// Reads a quoted-string starting at s[pos] == '"'; returns its content, pos past the close quote.
[[nodiscard]] std::string read_quoted(std::string_view s, std::size_t& pos) {
  std::string out;
  ++pos;
  while (pos < s.size() && s[pos] != '"') {
    if (s[pos] == '\\' && pos + 1 < s.size()) ++pos;
    out += s[pos];
    ++pos;
  }
  if (pos < s.size()) ++pos;
  return out;
}

}  // namespace

std::string format_date(long long unix_seconds) {
  using namespace std::chrono;
  const sys_seconds tp{seconds{unix_seconds}};
  const sys_days day = floor<days>(tp);
  const year_month_day ymd{day};
  const weekday wd{day};
  const hh_mm_ss<seconds> hms{tp - day};
  static constexpr std::array<std::string_view, 7> day_names{"Sun", "Mon", "Tue", "Wed",
                                                             "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> month_names{
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto two = [](long long v) {
    std::string s = std::to_string(v);
    return s.size() < 2 ? "0" + s : s;
  };
  // RFC 5322 §3.3: day-name "," day month year hour ":" minute ":" second zone.
  std::string out{day_names[wd.c_encoding()]};
  out += ", ";
  out += two(static_cast<unsigned>(ymd.day()));
  out += ' ';
  out += month_names[static_cast<unsigned>(ymd.month()) - 1];
  out += ' ';
  out += std::to_string(static_cast<int>(ymd.year()));
  out += ' ';
  out += two(hms.hours().count()) + ":" + two(hms.minutes().count()) + ":" +
         two(hms.seconds().count());
  out += " +0000";
  return out;
}

std::string format_mailbox(const mailbox& mb) {
  const std::string addr = angle(sanitize_token(mb.address));
  const std::string name = phrase(mb.name);
  if (name.empty()) return addr;
  return name + " " + addr;
}

mailbox parse_mailbox(std::string_view text) {
  mailbox mb;
  const std::string s = sanitize_header_text(text);
  const auto lt = s.rfind('<');
  if (lt != std::string::npos) {
    const auto gt = s.find('>', lt);
    mb.address = lower_domain(trim_copy(
        std::string_view(s).substr(lt + 1, (gt == std::string::npos ? s.size() : gt) - lt - 1)));
    const std::string before = trim_copy(std::string_view(s).substr(0, lt));
    if (!before.empty() && before.front() == '"') {
      std::size_t pos = 0;
      mb.name = read_quoted(before, pos);
    } else {
      mb.name = before;
    }
    return mb;
  }
  // addr-spec, optionally followed by a comment holding the name (`a@b (Name)`).
  std::string rest = s;
  const auto paren = rest.find('(');
  if (paren != std::string::npos) {
    const auto close = rest.rfind(')');
    const std::size_t end = close == std::string::npos || close < paren ? rest.size() : close;
    mb.name = trim_copy(std::string_view(rest).substr(paren + 1, end - paren - 1));
    rest.erase(paren);
  }
  mb.address = lower_domain(trim_copy(rest));
  if (mb.address.find(' ') != std::string::npos) mb.address.clear();
  return mb;
}

std::string compose(const outgoing_message& msg) {
  std::string out;
  out += fold_header("From", format_mailbox(msg.from));

  std::string to;
  for (const auto& mb : msg.to) {
    if (!to.empty()) to += ", ";
    to += format_mailbox(mb);
  }
  if (!to.empty()) out += fold_header("To", to);

  out += fold_header("Subject", unstructured_value(msg.subject));

  std::string date = sanitize_header_text(msg.date);
  if (date.empty()) {
    date = format_date(std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count());
  }
  out += fold_header("Date", date);

  std::string message_id = sanitize_token(msg.message_id);
  if (message_id.empty() || message_id.size() > max_id_length) {
    message_id = generate_message_id(sanitize_token(msg.from.address));
  }
  out += fold_header("Message-ID", angle(message_id));

  // RFC 5322 §3.6.4: In-Reply-To names the parent, References the parent's References plus the
  // parent itself.
  const std::string in_reply_to = sanitize_token(msg.in_reply_to);
  if (!in_reply_to.empty() && in_reply_to.size() <= max_id_length) {
    out += fold_header("In-Reply-To", angle(in_reply_to));
  }
  const auto refs = reference_ids(msg);
  if (!refs.empty()) {
    std::string value;
    for (const auto& id : refs) {
      if (!value.empty()) value += ' ';
      value += angle(id);
    }
    out += fold_header("References", value);
  }

  const encoded_body body = encode_body(msg.body_text);
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Transfer-Encoding: ";
  out += body.transfer_encoding;
  out += "\r\n";

  for (const auto& field : msg.extra_headers) {
    if (!is_field_name(field.name) || is_own_field(field.name)) continue;
    out += fold_header(field.name, unstructured_value(field.value));
  }

  out += "\r\n";  // RFC 5322 §2.1: an empty line separates header and body
  out += body.bytes;
  return out;
}

}  // namespace supportd::reply
