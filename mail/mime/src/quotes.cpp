// Separates what the customer newly wrote from quoted earlier mail and signatures, for the
// quoting styles of Gmail, Outlook, Apple Mail, Thunderbird, Foxmail/QQ and Coremail.

#include <array>
#include <string>
#include <vector>

#include "detail/charset.hpp"
#include "supportd/mime/message.hpp"

namespace supportd::mime {
namespace {

// Trims ASCII blanks plus NBSP (U+00A0) and the ideographic space (U+3000).
std::string_view trim_text(std::string_view s) noexcept {
  while (true) {
    const std::string_view before = s;
    s = detail::trim(s);
    if (s.starts_with("\xC2\xA0")) s.remove_prefix(2);
    if (s.starts_with("\xE3\x80\x80")) s.remove_prefix(3);
    if (s.ends_with("\xC2\xA0")) s.remove_suffix(2);
    if (s.ends_with("\xE3\x80\x80")) s.remove_suffix(3);
    if (s.size() == before.size()) return s;
  }
}

bool ends_with_any(std::string_view s, std::initializer_list<std::string_view> suffixes) noexcept {
  for (auto x : suffixes) {
    if (s.size() >= x.size() && detail::iequals(s.substr(s.size() - x.size()), x)) return true;
  }
  return false;
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) noexcept {
  for (auto x : prefixes) {
    if (detail::istarts_with(s, x)) return true;
  }
  return false;
}

// `t` is a trimmed line (trim_text).
bool is_quote_line(std::string_view t) noexcept {
  return t.starts_with('>') || t.starts_with("\xEF\xBC\x9E");  // '>' or fullwidth '＞'
}

// "On <date>, <name> wrote:" and its translations; Gmail wraps it over up to three lines.
bool is_attribution_text(std::string_view t) noexcept {
  if (t.size() > 400) return false;
  // Every ending below ends in ':', '：' or '道': most lines end in none of them.
  if (!t.ends_with(':') && !t.ends_with("\xEF\xBC\x9A") && !t.ends_with("\xE9\x81\x93")) return false;
  if (ends_with_any(t, {"写道：", "写道:", "寫道：", "寫道:", "写道", "寫道："})) return true;
  if (ends_with_any(t, {"wrote:", "wrote :", "writes:", "a écrit :", "a écrit:", "schrieb:",
                        "escribió:", "ha scritto:", "escreveu:", "geschreven:"})) {
    if (starts_with_any(t, {"On ", "Le ", "Am ", "El ", "Il ", "Em ", "Op "})) return true;
    // "John Doe <john@example.com> wrote:" / "2025-01-16 11:06 GMT+08:00 John wrote:"
    return t.find('@') != std::string_view::npos ||
           t.find_first_of("0123456789") != std::string_view::npos;
  }
  return false;
}

// Number of lines (1-3) forming an attribution starting at `i`, or 0. `lines` are trimmed.
std::size_t attribution_length(const std::vector<std::string_view>& lines, std::size_t i) {
  std::string joined;  // only built for a second line: this runs for every line of every body
  for (std::size_t k = 0; k < 3 && i + k < lines.size(); ++k) {
    const std::string_view t = lines[i + k];
    if (t.empty() || is_quote_line(t)) return 0;
    if (k == 1) joined.assign(lines[i]);
    if (k > 0) {
      joined.push_back(' ');
      joined.append(t);
    }
    if (is_attribution_text(k == 0 ? t : std::string_view(joined))) return k + 1;
    // Only a line that starts like an attribution may continue onto the next one.
    if (k == 0 && !starts_with_any(t, {"On ", "在", "Le ", "Am ", "El "}) &&
        t.find('<') == std::string_view::npos) {
      return 0;
    }
  }
  return 0;
}

// "-----Original Message-----", "-----原始邮件-----", "------------------ 原始邮件 ------------------".
// `t` is a trimmed line.
bool is_original_message_separator(std::string_view t) {
  if (t.size() > 120) return false;
  const bool has_rule = t.find("--") != std::string_view::npos || t.find("——") != std::string_view::npos ||
                        t.find("__") != std::string_view::npos;
  if (!has_rule) return false;
  std::string core;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '-' || c == '_' || c == ' ' || c == '=' || c == '*' || c == '\t') continue;
    if (t.substr(i).starts_with("——")) {
      i += std::string_view("——").size() - 1;
      continue;
    }
    if (t.substr(i).starts_with("\xC2\xA0")) {
      ++i;
      continue;
    }
    core.push_back(c);
  }
  detail::ascii_lower(core);
  return core == "originalmessage" || core == "原始邮件" || core == "原始郵件" ||
         core == "originalnachricht" || core == "messaged'origine" || core == "replyabovethisline";
}

bool is_header_line(std::string_view t, std::initializer_list<std::string_view> names) {
  for (auto n : names) {
    if (!detail::istarts_with(t, n)) continue;
    std::string_view rest = trim_text(t.substr(n.size()));
    if (rest.starts_with(':') || rest.starts_with("\xEF\xBC\x9A")) return true;  // ':' or '：'
  }
  return false;
}

// Outlook/Foxmail forward-reply header block: "From: ... Sent: ... To: ... Subject: ...".
// `lines` are trimmed.
bool is_outlook_header_block(const std::vector<std::string_view>& lines, std::size_t i) {
  const std::string_view first = lines[i];
  if (!is_header_line(first, {"From", "发件人", "發件人", "寄件者", "Von", "De"})) return false;
  bool has_date = false;
  bool has_other = false;
  for (std::size_t k = 1; k <= 6 && i + k < lines.size(); ++k) {
    const std::string_view t = lines[i + k];
    if (is_header_line(t, {"Sent", "Date", "发送时间", "發送時間", "日期", "时间", "寄件日期", "Gesendet",
                           "Datum", "Envoyé"})) {
      has_date = true;
    }
    if (is_header_line(t, {"To", "Subject", "收件人", "主题", "主題", "Cc", "抄送", "An", "Betreff",
                           "À", "Objet", "收件者", "主旨"})) {
      has_other = true;
    }
  }
  return has_date && has_other;
}

bool is_signature_marker(std::string_view line) noexcept {
  return line == "-- " || line == "--";  // RFC 3676 §4.3 sig-dash, and its trimmed form
}

// `t` is a trimmed line.
bool is_mobile_signature(std::string_view t) noexcept {
  if (t.size() > 80) return false;
  return starts_with_any(t, {"Sent from my ", "Sent from Mail for", "Get Outlook for", "发自我的",
                             "從我的 iPhone 傳送", "发自网易邮箱", "Sent from Yahoo Mail"});
}

// `t` is a trimmed line.
bool is_rule_only(std::string_view t) noexcept {
  if (t.empty()) return false;
  for (char c : t) {
    if (c != '_' && c != '-' && c != '=' && c != '*' && c != ' ') return false;
  }
  return true;
}

}  // namespace

std::string strip_quotes_and_signature(std::string_view body) {
  // Scratch reused from call to call (every message comes here): no allocations once warm.
  thread_local std::vector<std::string_view> lines;
  thread_local std::vector<std::string_view> trimmed;
  thread_local std::vector<std::size_t> kept;  // indexes into lines
  lines.clear();
  std::size_t pos = 0;
  while (pos <= body.size()) {
    auto nl = body.find('\n', pos);
    if (nl == std::string_view::npos) nl = body.size();
    std::string_view line = body.substr(pos, nl - pos);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    pos = nl + 1;
  }
  // Each line trimmed once: every test below but the signature marker looks at trimmed text.
  trimmed.resize(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) trimmed[i] = trim_text(lines[i]);

  kept.clear();
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const std::string_view t = trimmed[i];
    if (is_signature_marker(line)) break;
    if (is_quote_line(t)) continue;
    if (is_original_message_separator(t) || is_outlook_header_block(trimmed, i)) break;
    if (const std::size_t n = attribution_length(trimmed, i); n > 0) {
      // Interleaved or bottom-posted replies keep going after the quote; otherwise the rest
      // is the earlier mail, quoted without '>' (HTML mail, Coremail, Outlook).
      std::size_t j = i + n;
      while (j < lines.size() && trimmed[j].empty()) ++j;
      if (j < lines.size() && is_quote_line(trimmed[j])) {
        i = j - 1;
        continue;
      }
      break;
    }
    // Mailman's list footer: a rule of underscores, then "<list> mailing list".
    if (is_rule_only(t) && i + 1 < lines.size() &&
        ends_with_any(trimmed[i + 1], {"mailing list", "mailing list."})) {
      break;
    }
    if (is_mobile_signature(t)) continue;
    kept.push_back(i);
  }
  // Drop separators ("____") and blank lines left above a cut.
  while (!kept.empty() && (trimmed[kept.back()].empty() || is_rule_only(trimmed[kept.back()]))) kept.pop_back();

  std::string out;
  out.reserve(body.size());
  bool previous_blank = true;  // also drops leading blank lines
  for (const std::size_t i : kept) {
    const bool blank = trimmed[i].empty();
    if (blank && previous_blank) continue;
    if (!out.empty()) out.push_back('\n');
    if (!blank) out.append(lines[i]);
    previous_blank = blank;
  }
  if (lines.capacity() > 4096) {  // a huge body's scratch is not kept for the next message
    lines = {};
    trimmed = {};
    kept = {};
  }
  return out;
}

}  // namespace supportd::mime
