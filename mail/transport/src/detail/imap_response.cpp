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

}  // namespace supportd::transport::detail
