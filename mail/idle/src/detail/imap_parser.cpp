#include "detail/imap_parser.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace supportd::idle::detail {
namespace {

std::string upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

// Decimal number (RFC 3501 "number"); nullopt on overflow.
std::optional<std::uint64_t> to_number(std::string_view digits) {
  std::uint64_t value = 0;
  for (const char c : digits) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    value = value * 10 + d;
  }
  return value;
}

// Takes the next space-separated token off the front of `rest`.
std::string_view take_token(std::string_view& rest) {
  const auto space = rest.find(' ');
  const std::string_view token = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view{} : rest.substr(space + 1);
  return token;
}

condition condition_of(std::string_view keyword) {
  if (keyword == "OK") return condition::ok;
  if (keyword == "NO") return condition::no;
  if (keyword == "BAD") return condition::bad;
  if (keyword == "PREAUTH") return condition::preauth;
  if (keyword == "BYE") return condition::bye;
  return condition::none;
}

std::vector<std::string> split_capabilities(std::string_view text) {
  std::vector<std::string> caps;
  while (!text.empty()) {
    const std::string_view token = take_token(text);
    if (!token.empty()) caps.push_back(upper(token));
  }
  return caps;
}

// resp-text = ["[" resp-text-code "]" SP] text (RFC 3501 section 9); only CAPABILITY matters here.
void parse_resp_text(std::string_view rest, response& out) {
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close != std::string_view::npos) {
      std::string_view code = rest.substr(1, close - 1);
      const std::string_view name = take_token(code);
      if (upper(name) == "CAPABILITY") out.capabilities = split_capabilities(code);
      rest = rest.substr(close + 1);
      if (rest.starts_with(' ')) rest.remove_prefix(1);
    }
  }
  out.text = std::string(rest);
}

// "{n}" (or "{n+}", or "~{n}" for literal8) at the end of a line; 0 octets is a valid literal.
std::expected<std::optional<std::uint64_t>, parse_error> trailing_literal(std::string_view line) {
  if (!line.ends_with('}')) return std::nullopt;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (digits.ends_with('+')) digits.remove_suffix(1);
  if (!all_digits(digits)) return std::nullopt;
  const auto n = to_number(digits);
  if (!n) return std::unexpected(parse_error{"literal size out of range"});
  return n;
}

}  // namespace

bool may_contain_literals(std::string_view line_start) {
  if (line_start.starts_with('+')) return false;
  std::string_view rest = line_start;
  take_token(rest);  // tag or "*"
  return condition_of(upper(take_token(rest))) == condition::none;
}

std::expected<response, parse_error> parse_response_line(std::string_view line) {
  response out;
  if (line.starts_with('+')) {
    out.kind = response_kind::continuation;
    line.remove_prefix(1);
    if (line.starts_with(' ')) line.remove_prefix(1);
    out.text = std::string(line);
    return out;
  }
  std::string_view rest = line;
  const std::string_view first = take_token(rest);
  if (first == "*") {
    out.kind = response_kind::untagged;
    const std::string_view word = take_token(rest);
    if (all_digits(word)) {
      // message-data / mailbox-data with a number first: "* 5 EXISTS" (RFC 3501 7.3.1).
      out.number = to_number(word);
      if (!out.number)
        return std::unexpected(parse_error{"number out of range in: " + std::string(line)});
      out.keyword = upper(take_token(rest));
      if (out.keyword.empty()) {
        return std::unexpected(parse_error{"number without a keyword in: " + std::string(line)});
      }
      out.text = std::string(rest);
      return out;
    }
    if (word.empty()) return std::unexpected(parse_error{"empty untagged response"});
    out.keyword = upper(word);
    out.cond = condition_of(out.keyword);
    if (out.cond != condition::none) {
      parse_resp_text(rest, out);
    } else {
      if (out.keyword == "CAPABILITY") out.capabilities = split_capabilities(rest);
      out.text = std::string(rest);
    }
    return out;
  }
  // tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501 section 9).
  const bool tag_ok = !first.empty() && std::ranges::none_of(first, [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u >= 0x7f || c == '+' || c == '(' || c == ')' || c == '{' || c == '%' ||
           c == '*' || c == '"' || c == '\\';
  });
  if (!tag_ok) return std::unexpected(parse_error{"not an IMAP response: " + std::string(line)});
  out.kind = response_kind::tagged;
  out.tag = std::string(first);
  out.keyword = upper(take_token(rest));
  out.cond = condition_of(out.keyword);
  if (out.cond != condition::ok && out.cond != condition::no && out.cond != condition::bad) {
    return std::unexpected(parse_error{"tagged response without OK/NO/BAD: " + std::string(line)});
  }
  parse_resp_text(rest, out);
  return out;
}

response_parser::response_parser(std::size_t max_line) : max_line_(max_line) {}

void response_parser::feed(std::string_view bytes) {
  if (!failed_) buffer_.append(bytes);
}

std::size_t response_parser::pending_bytes() const { return buffer_.size() + line_.size(); }

std::expected<std::optional<response>, parse_error> response_parser::next() {
  auto fail = [this](std::string message) {
    failed_ = parse_error{std::move(message)};
    buffer_.clear();
    line_.clear();
    return std::unexpected(*failed_);
  };
  if (failed_) return std::unexpected(*failed_);
  for (;;) {
    if (skip_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, buffer_.size()));
      buffer_.erase(0, n);
      skip_ -= n;
      if (skip_ > 0) return std::nullopt;
    }
    const auto lf = buffer_.find('\n');
    if (lf == std::string::npos) {
      if (line_.size() + buffer_.size() > max_line_) return fail("response line too long");
      return std::nullopt;
    }
    std::string_view segment(buffer_.data(), lf);
    if (segment.ends_with('\r')) segment.remove_suffix(1);  // CRLF; a bare LF is tolerated
    if (line_.size() + segment.size() > max_line_) return fail("response line too long");
    // Only the new segment can end in a literal marker: after "{5}" + 5 octets + CRLF the
    // earlier marker is consumed (e.g. "* LIST () \"/\" {5}" CRLF "INBOX" CRLF).
    auto literal = trailing_literal(segment);
    line_.append(segment);
    buffer_.erase(0, lf + 1);
    if (may_contain_literals(line_)) {
      if (!literal) return fail(literal.error().message);
      if (*literal) {
        // A literal's octets follow the CRLF; the response continues after them (RFC 3501 4.3).
        skip_ = **literal;
        continue;
      }
    }
    std::string line = std::exchange(line_, {});
    if (line.empty()) continue;  // tolerated: some servers send blank lines
    auto parsed = parse_response_line(line);
    if (!parsed) return fail(parsed.error().message);
    return std::optional<response>(std::move(*parsed));
  }
}

}  // namespace supportd::idle::detail
