#include "supportd/reply/links.hpp"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace supportd::reply {

namespace {

[[nodiscard]] bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

[[nodiscard]] char lower_ascii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower_ascii(c);
  return out;
}

[[nodiscard]] bool starts_with_nocase(std::string_view s, std::size_t at, std::string_view prefix) {
  if (at > s.size() || s.size() - at < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower_ascii(s[at + i]) != prefix[i]) return false;
  return true;
}

// The code point at byte `i` (invalid UTF-8 reads as U+FFFD) and its length in bytes.
struct code_point {
  UChar32 c = 0;
  std::size_t size = 0;
};

[[nodiscard]] code_point decode_at(std::string_view s, std::size_t i) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data() + i);
  const auto length = static_cast<std::int32_t>(std::min<std::size_t>(s.size() - i, 4));
  std::int32_t k = 0;
  UChar32 c = 0;
  U8_NEXT_OR_FFFD(p, k, length, c);
  return {c, static_cast<std::size_t>(k)};
}

// Where a link visibly ends in running text: white space, or punctuation that is not ASCII
// ("，", "。", "）"...), as Chinese sentences put no space after a link.
[[nodiscard]] bool ends_link(UChar32 c) {
  return u_isUWhiteSpace(c) || u_ispunct(c) || u_charType(c) == U_CONTROL_CHAR;
}

// UTS #46 maps these full stops to "." inside a host name.
[[nodiscard]] bool is_ideographic_full_stop(UChar32 c) {
  return c == 0x3002 || c == 0xFF0E || c == 0xFF61;
}

// Characters of an authority (RFC 3986 §3.2: userinfo, host, port). A backslash is kept so that
// it can be reported: browsers read it as "/" (WHATWG URL), other clients as part of the host.
[[nodiscard]] bool is_authority_char(char c) {
  return is_alnum(c) ||
         std::string_view("-._~%!$&'()*+,;=:@[]\\").find(c) != std::string_view::npos;
}

// Sentence punctuation that follows a link rather than belonging to it.
[[nodiscard]] bool is_trailing_punctuation(char c) {
  return std::string_view(".,;:!?)'").find(c) != std::string_view::npos;
}

[[nodiscard]] bool is_domain_char(char c) {
  return is_alnum(c) || c == '-' || c == '.' || c == '_';
}

[[nodiscard]] bool is_local_part_char(char c) {
  return is_alnum(c) || std::string_view("._%+-").find(c) != std::string_view::npos;
}

// The variable name of a mustache tag starting at `at` ("{{name}}", "{{{name}}}", "{{&name}}"),
// or "" when there is no tag there.
[[nodiscard]] std::string tag_name_at(std::string_view s, std::size_t at, std::size_t& end) {
  if (!s.substr(at).starts_with("{{")) return {};
  const bool triple = s.substr(at).starts_with("{{{");
  const std::string_view close = triple ? "}}}" : "}}";
  const std::size_t close_at = s.find(close, at);
  if (close_at == std::string_view::npos) return {};
  end = close_at + close.size();
  std::string_view name = s.substr(at + (triple ? 3 : 2), close_at - at - (triple ? 3 : 2));
  if (!name.empty() && name.front() == '&') name.remove_prefix(1);
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  return std::string(name);
}

// What follows a host decides whether clients agree on where it ends: "example.com。" ends at
// the full stop, "example.com中文" or "example.com。evil" may be read as one longer name.
[[nodiscard]] std::string problem_after_host(std::string_view s, std::size_t end) {
  if (end >= s.size()) return {};
  if (s.substr(end).starts_with("{{")) return "the host runs into a template tag";
  if (static_cast<unsigned char>(s[end]) < 0x80) return {};
  const code_point cp = decode_at(s, end);
  if (is_ideographic_full_stop(cp.c)) {
    const std::size_t next = end + cp.size;
    if (next >= s.size()) return {};
    if (static_cast<unsigned char>(s[next]) < 0x80)
      return is_alnum(s[next]) ? "the host continues after a full-width full stop" : "";
    return ends_link(decode_at(s, next).c) ? "" : "the host continues after a full-width full stop";
  }
  if (ends_link(cp.c)) return {};
  return "the host runs into non-ASCII text; end it with '/' or a space";
}

// Lower case, without the dots of a fully qualified name; a problem when it is not a plain
// ASCII domain name or address literal (clients differ on anything else).
[[nodiscard]] std::string normalize_host(std::string_view raw, std::string& host) {
  host = lower(raw);
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty()) return "the link has no host";
  if (host.front() == '[' && host.back() == ']') return {};  // IPv6 literal: matched as written
  if (!std::all_of(host.begin(), host.end(), is_domain_char))
    return "the host \"" + host + "\" is not a plain domain name (write IDN names as xn--)";
  return {};
}

// The display text of a URL from `start`: up to white space, a quote or an angle bracket, or
// non-ASCII punctuation; without trailing sentence punctuation.
[[nodiscard]] std::size_t url_end(std::string_view s, std::size_t from) {
  std::size_t i = from;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      if (b <= 0x20 || b == 0x7F || s[i] == '<' || s[i] == '>' || s[i] == '"' || s[i] == '`') break;
      ++i;
      continue;
    }
    const code_point cp = decode_at(s, i);
    if (ends_link(cp.c)) break;
    i += cp.size;
  }
  while (i > from && is_trailing_punctuation(s[i - 1])) --i;
  return i;
}

class finder {
 public:
  explicit finder(std::string_view text) : s_(text) {}

  std::vector<link> run() {
    for (std::size_t i = 0; i < s_.size();) i = scan_at(i);
    find_bare_addresses();
    std::stable_sort(found_.begin(), found_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<link> out;
    out.reserve(found_.size());
    std::size_t line = 1;
    std::size_t counted = 0;
    for (auto& [offset, l] : found_) {
      line += static_cast<std::size_t>(std::count(s_.begin() + static_cast<std::ptrdiff_t>(counted),
                                                  s_.begin() + static_cast<std::ptrdiff_t>(offset),
                                                  '\n'));
      counted = offset;
      l.line = line;
      out.push_back(std::move(l));
    }
    return out;
  }

 private:
  // Tries a link at `i`; returns where scanning goes on.
  std::size_t scan_at(std::size_t i) {
    if (s_.substr(i).starts_with("://")) {
      std::size_t start = i;
      while (start > 0 && (is_alnum(s_[start - 1]) || s_[start - 1] == '+' ||
                           s_[start - 1] == '-' || s_[start - 1] == '.'))
        --start;
      while (start < i &&
             !((s_[start] >= 'a' && s_[start] <= 'z') || (s_[start] >= 'A' && s_[start] <= 'Z')))
        ++start;
      if (start < i) return add_url(start, i + 3);
      return i + 3;
    }
    if (starts_with_nocase(s_, i, "mailto:") && (i == 0 || !is_alnum(s_[i - 1])))
      return add_mailto(i);
    if (starts_with_nocase(s_, i, "www.") &&
        (i == 0 ||
         !(is_domain_char(s_[i - 1]) || s_[i - 1] == '@' || s_[i - 1] == '/' || s_[i - 1] == ':')))
      return add_www(i);
    return i + 1;
  }

  // `scheme://` at `start`, its authority at `authority`.
  std::size_t add_url(std::size_t start, std::size_t authority) {
    link l;
    const std::size_t end = url_end(s_, authority);
    l.text = std::string(s_.substr(start, std::max(end, authority) - start));
    std::size_t tag_end = 0;
    if (const std::string var = tag_name_at(s_, authority, tag_end); !var.empty()) {
      l.problem = "the host comes from the variable {{" + var + "}}";
    } else {
      read_authority(authority, l);
    }
    spans_.emplace_back(start, std::max(end, authority));
    found_.emplace_back(start, std::move(l));
    return std::max(end, authority);
  }

  // "www." names are linked by clients without a scheme.
  std::size_t add_www(std::size_t start) {
    link l;
    const std::size_t host_end = read_authority(start, l);
    if (l.problem.empty() && l.host.find('.', 4) == std::string::npos) return start + 4;  // "www."
    const std::size_t end = std::max(url_end(s_, start), host_end);
    l.text = std::string(s_.substr(start, end - start));
    spans_.emplace_back(start, end);
    found_.emplace_back(start, std::move(l));
    return end;
  }

  // RFC 6068: mailto:addr1,addr2?headers. Each address is a link of its own.
  std::size_t add_mailto(std::size_t start) {
    const std::size_t value = start + 7;
    std::size_t tag_end = 0;
    if (const std::string var = tag_name_at(s_, value, tag_end); !var.empty()) {
      // {{support_address}} is our own configured address; anything else comes from the sender.
      if (var != "support_address") {
        link l;
        l.text = std::string(s_.substr(start, tag_end - start));
        l.problem = "the address comes from the variable {{" + var + "}}";
        found_.emplace_back(start, std::move(l));
      }
      spans_.emplace_back(start, tag_end);
      return tag_end;
    }
    std::size_t end = value;
    while (end < s_.size() && static_cast<unsigned char>(s_[end]) > 0x20 &&
           static_cast<unsigned char>(s_[end]) < 0x7F &&
           std::string_view("?#<>\"()[]{}\\`").find(s_[end]) == std::string_view::npos)
      ++end;
    const std::size_t untrimmed = end;
    while (end > value && is_trailing_punctuation(s_[end - 1])) --end;
    const std::string_view addresses = s_.substr(value, end - value);
    std::size_t from = 0;
    do {
      const std::size_t comma = addresses.find(',', from);
      const std::string_view address = addresses.substr(
          from, comma == std::string_view::npos ? std::string_view::npos : comma - from);
      link l;
      l.text = "mailto:" + std::string(address);
      const std::size_t at = address.rfind('@');
      if (address.find('%') != std::string_view::npos) {
        l.problem = "the address is percent-encoded; write it plainly";
      } else if (at == std::string_view::npos) {
        l.problem = "mailto: without an address";
      } else {
        const std::string bad_host = normalize_host(address.substr(at + 1), l.host);
        const std::string bad_end =
            comma == std::string_view::npos ? problem_after(end, untrimmed) : std::string();
        l.problem = bad_end.empty() ? bad_host : bad_end;
      }
      found_.emplace_back(start, std::move(l));
      from = comma == std::string_view::npos ? std::string_view::npos : comma + 1;
    } while (from != std::string_view::npos);
    const std::size_t link_end = std::max(url_end(s_, start), untrimmed);
    spans_.emplace_back(start, link_end);
    return link_end;
  }

  // Reads the authority at `at` into l.host (or l.problem); returns where it ends.
  std::size_t read_authority(std::size_t at, link& l) {
    std::size_t end = at;
    while (end < s_.size() && is_authority_char(s_[end])) ++end;
    const std::size_t untrimmed = end;
    while (end > at && is_trailing_punctuation(s_[end - 1])) --end;
    const std::string_view authority = s_.substr(at, end - at);
    if (authority.find('\\') != std::string_view::npos) {
      l.problem = "a backslash in the host part (browsers read it as '/', other clients do not)";
      return end;
    }
    // RFC 3986 §3.2.1: userinfo ends at the last "@"; the host follows it.
    std::string_view host_port = authority.substr(authority.rfind('@') + 1);
    std::string_view host = host_port;
    if (host_port.starts_with('[')) {
      host = host_port.substr(0, host_port.find(']') == std::string_view::npos
                                     ? host_port.size()
                                     : host_port.find(']') + 1);
    } else if (const auto colon = host_port.find(':'); colon != std::string_view::npos) {
      host = host_port.substr(0, colon);
    }
    const std::string bad_host = normalize_host(host, l.host);
    const std::string bad_end = problem_after(end, untrimmed);
    l.problem = bad_end.empty() ? bad_host : bad_end;
    return end;
  }

  // A host ends at `end`; `untrimmed` is where it would end with its trailing punctuation.
  // Only dots are checked through ("example.com.中国" is another name), other punctuation ends it.
  [[nodiscard]] std::string problem_after(std::size_t end, std::size_t untrimmed) const {
    for (std::size_t i = end; i < untrimmed; ++i)
      if (s_[i] != '.' && s_[i] != '-') return {};
    return problem_after_host(s_, untrimmed);
  }

  // user@example.com without mailto: (clients link those too), outside the links found so far.
  void find_bare_addresses() {
    for (std::size_t at = s_.find('@'); at != std::string_view::npos; at = s_.find('@', at + 1)) {
      const bool inside = std::any_of(spans_.begin(), spans_.end(), [&](const auto& span) {
        return at >= span.first && at < span.second;
      });
      if (inside) continue;
      std::size_t start = at;
      while (start > 0 && is_local_part_char(s_[start - 1])) --start;
      const bool after_tag = start == at && at >= 2 && s_.substr(at - 2, 2) == "}}";
      if (start == at && !after_tag) continue;
      link l;
      std::size_t tag_end = 0;
      if (const std::string var = tag_name_at(s_, at + 1, tag_end); !var.empty()) {
        l.text = std::string(s_.substr(start, tag_end - start));
        l.problem = "the address's domain comes from the variable {{" + var + "}}";
        found_.emplace_back(start, std::move(l));
        continue;
      }
      std::size_t end = at + 1;
      while (end < s_.size() && is_domain_char(s_[end])) ++end;
      const std::size_t untrimmed = end;
      while (end > at + 1 && (s_[end - 1] == '.' || s_[end - 1] == '-')) --end;
      const std::string_view domain = s_.substr(at + 1, end - at - 1);
      const auto dot = domain.find('.');
      if (dot == std::string_view::npos || dot == 0 || dot + 1 == domain.size()) continue;
      if (after_tag) start = at;
      l.text = std::string(s_.substr(start, end - start));
      const std::string bad_host = normalize_host(domain, l.host);
      const std::string bad_end = problem_after(end, untrimmed);
      l.problem = bad_end.empty() ? bad_host : bad_end;
      found_.emplace_back(start, std::move(l));
    }
  }

  std::string_view s_;
  std::vector<std::pair<std::size_t, link>> found_;         // by offset of the link's start
  std::vector<std::pair<std::size_t, std::size_t>> spans_;  // [start, end) of links found
};

}  // namespace

std::vector<link> find_links(std::string_view text) { return finder(text).run(); }

bool host_within(std::string_view host, const std::vector<std::string>& domains) {
  std::string h = lower(host);
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (h.empty()) return false;
  for (const auto& d : domains) {
    std::string domain = lower(d);
    while (!domain.empty() && domain.back() == '.') domain.pop_back();
    while (!domain.empty() && domain.front() == '.') domain.erase(0, 1);
    if (domain.empty()) continue;
    if (h == domain) return true;
    if (h.size() > domain.size() && h.ends_with(domain) && h[h.size() - domain.size() - 1] == '.')
      return true;
  }
  return false;
}

}  // namespace supportd::reply
