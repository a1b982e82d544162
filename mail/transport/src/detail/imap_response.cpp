#include "detail/imap_response.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

namespace supportd::transport::detail {
namespace {

// Splits on CRLF or LF; the last line need not be terminated.
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.ends_with('\r')) line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

bool starts_with_nocase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

std::optional<std::int64_t> to_number(std::string_view token) {
  std::int64_t value = 0;
  const auto* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, value);
  if (ec != std::errc{} || ptr != end || value < 0) return std::nullopt;
  return value;
}

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

std::optional<mailbox_status> parse_status(std::string_view response) {
  for (const std::string_view line : lines_of(response)) {
    if (!starts_with_nocase(line, "* STATUS ")) continue;
    // The mailbox name may be quoted and contain parentheses: the item list is the last group.
    const auto open = line.rfind('(');
    const auto close = line.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) continue;
    const auto words = words_of(line.substr(open + 1, close - open - 1));
    std::optional<std::int64_t> validity;
    std::optional<std::int64_t> next;
    std::optional<std::int64_t> messages;
    for (std::size_t i = 0; i + 1 < words.size(); i += 2) {
      std::string name(words[i]);
      std::ranges::transform(name, name.begin(),
                             [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      const auto value = to_number(words[i + 1]);
      if (name == "UIDVALIDITY") validity = value;
      if (name == "UIDNEXT") next = value;
      if (name == "MESSAGES") messages = value;
    }
    if (validity && next && messages) {
      return mailbox_status{.uidvalidity = *validity, .uidnext = *next, .messages = *messages};
    }
  }
  return std::nullopt;
}

std::vector<std::int64_t> parse_search(std::string_view response, std::int64_t low,
                                       std::int64_t high) {
  std::vector<std::int64_t> uids;
  for (const std::string_view line : lines_of(response)) {
    if (!starts_with_nocase(line, "* SEARCH")) continue;
    const auto words = words_of(line.substr(8));
    for (const std::string_view word : words) {
      const auto uid = to_number(word);
      if (uid && *uid >= low && *uid <= high) uids.push_back(*uid);
    }
  }
  std::ranges::sort(uids);
  const auto dup = std::ranges::unique(uids);
  uids.erase(dup.begin(), dup.end());
  return uids;
}

std::optional<std::int64_t> parse_imap_date_time(std::string_view t) {
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  auto number = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
    if (pos + len > t.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  // d-Mon-yyyy or dd-Mon-yyyy
  std::size_t dash = t.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 2) return std::nullopt;
  auto day = number(0, dash);
  std::size_t p = dash + 1;
  int month = -1;
  for (int m = 0; m < 12; ++m)
    if (t.substr(p, 3) == months[m]) month = m;
  p += 4;
  auto year = number(p, 4);
  auto hour = number(p + 5, 2), minute = number(p + 8, 2), second = number(p + 11, 2);
  if (!day || month < 0 || !year || !hour || !minute || !second || p + 19 > t.size())
    return std::nullopt;
  char sign = t[p + 14];
  auto zh = number(p + 15, 2), zm = number(p + 17, 2);
  if ((sign != '+' && sign != '-') || !zh || !zm) return std::nullopt;
  // Days from civil (H. Hinnant's algorithm), so no timezone-dependent libc call is needed.
  int y = *year - (month < 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int mp = (month + 10) % 12;  // month is 0-based; the algorithm counts from March
  const int doy = (153 * mp + 2) / 5 + *day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  const std::int64_t offset = (*zh * 3600 + *zm * 60) * (sign == '+' ? 1 : -1);
  return days * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
}

}  // namespace supportd::transport::detail
