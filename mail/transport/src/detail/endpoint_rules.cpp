#include "detail/endpoint_rules.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

namespace supportd::transport::detail {
namespace {

struct url_deleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using url_ptr = std::unique_ptr<CURLU, url_deleter>;

// One URL part as a string; empty when absent.
std::string url_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, flags) != CURLUE_OK || out == nullptr) return {};
  std::string text(out);
  curl_free(out);
  return text;
}

error config_error(std::string message) {
  return error{.kind = error_kind::config, .code = 0, .message = std::move(message)};
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Percent-decodes without curl's handle (a URL path is small).
std::expected<std::string, error> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::unexpected(config_error("bad percent escape in the mailbox name"));
    }
    const int hi = hex(text[i + 1]);
    const int lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::unexpected(config_error("bad percent escape in the mailbox name"));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  std::string h = lower(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.ends_with('.')) h.pop_back();  // "localhost." is the same name, fully qualified
  if (h == "localhost" || h.ends_with(".localhost")) return true;  // RFC 6761 section 6.3
  std::array<unsigned char, 16> addr{};
  if (inet_pton(AF_INET, h.c_str(), addr.data()) == 1) return addr[0] == 127;
  if (inet_pton(AF_INET6, h.c_str(), addr.data()) == 1) {
    constexpr std::array<unsigned char, 16> loop6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (addr == loop6) return true;
    // ::ffff:127.x.y.z is IPv4 loopback reached over an IPv6 socket.
    const bool mapped = std::all_of(addr.begin(), addr.begin() + 10, [](unsigned char b) { return b == 0; }) &&
                        addr[10] == 0xff && addr[11] == 0xff;
    return mapped && addr[12] == 127;
  }
  return false;
}

std::expected<parsed_url, error> parse_endpoint_url(std::string_view url) {
  if (url.empty()) return std::unexpected(config_error("no URL configured"));
  if (url.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return std::unexpected(config_error("URL contains control characters"));
  }
  url_ptr u(curl_url());
  if (!u) return std::unexpected(config_error("out of memory parsing the URL"));
  const std::string text(url);
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return std::unexpected(config_error("not a valid URL (expected imap://, imaps://, smtp:// or smtps://)"));
  }
  parsed_url out;
  out.scheme = lower(url_part(u.get(), CURLUPART_SCHEME));
  if (out.scheme == "imap" || out.scheme == "imaps") {
    out.proto = protocol::imap;
  } else if (out.scheme == "smtp" || out.scheme == "smtps") {
    out.proto = protocol::smtp;
  } else {
    return std::unexpected(config_error("unsupported URL scheme '" + out.scheme +
                                        "' (expected imap, imaps, smtp or smtps)"));
  }
  out.implicit_tls = out.scheme.ends_with('s');
  // A password in the URL would end up in logs; it belongs in the password setting.
  if (!url_part(u.get(), CURLUPART_PASSWORD).empty()) {
    return std::unexpected(config_error("the URL must not contain a password; use the password setting"));
  }
  out.host = url_part(u.get(), CURLUPART_HOST);
  if (out.host.empty()) return std::unexpected(config_error("the URL has no host"));
  const std::string port = url_part(u.get(), CURLUPART_PORT);
  std::string authority = out.host + (port.empty() ? "" : ":" + port);
  out.display = out.scheme + "://" + authority;
  out.base = out.display + "/";
  if (out.host.size() >= 2 && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);

  if (out.proto == protocol::imap) {
    std::string path = url_part(u.get(), CURLUPART_PATH);
    if (path.starts_with('/')) path.erase(0, 1);
    if (path.find(';') != std::string::npos) {
      return std::unexpected(config_error("the IMAP URL must name only a mailbox (no ;UID or ;UIDVALIDITY)"));
    }
    while (path.ends_with('/')) path.pop_back();
    auto mailbox = percent_decode(path);
    if (!mailbox) return std::unexpected(mailbox.error());
    if (mailbox->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      return std::unexpected(config_error("the mailbox name contains control characters"));
    }
    out.mailbox = mailbox->empty() ? "INBOX" : *mailbox;
  }
  return out;
}

bool needs_starttls(const parsed_url& url, const endpoint& ep) {
  return !url.implicit_tls && ep.starttls && !is_loopback_host(url.host);
}

std::string imap_quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace supportd::transport::detail
