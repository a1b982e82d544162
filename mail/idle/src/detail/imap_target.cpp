#include "detail/imap_target.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>

namespace supportd::idle::detail {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::expected<std::string, std::string> percent_decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) return std::unexpected("bad percent escape in the mailbox name");
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool has_control(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  std::string h = lower(host);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.ends_with('.')) h.pop_back();
  if (h == "localhost" || h.ends_with(".localhost")) return true;
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(h, ec);
  if (ec) return false;
  if (addr.is_v6() && addr.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6()).is_loopback();
  }
  return addr.is_loopback();
}

std::expected<imap_target, std::string> make_target(const transport::endpoint& ep) {
  std::string_view url = ep.url;
  if (has_control(url)) return std::unexpected("the URL contains control characters");
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return std::unexpected("not a URL: expected imap:// or imaps://");
  const std::string scheme = lower(url.substr(0, scheme_end));
  imap_target out;
  if (scheme == "imaps") {
    out.tls = security::implicit;
  } else if (scheme != "imap") {
    return std::unexpected("the IDLE watcher needs an imap:// or imaps:// URL, not " + scheme +
                           "://");
  }
  url.remove_prefix(scheme_end + 3);
  const auto path_start = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, path_start);
  std::string_view path =
      path_start == std::string_view::npos ? std::string_view{} : url.substr(path_start);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::unexpected("unterminated IPv6 address in the URL");
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && !after.starts_with(':'))
      return std::unexpected("bad text after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return std::unexpected("the URL has no host");
  if (!port.empty()) {
    unsigned value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9' || value > 65535) return std::unexpected("bad port in the URL");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::unexpected("bad port in the URL");
    out.port = std::string(port);
  } else {
    out.port = out.tls == security::implicit ? "993" : "143";
  }
  if (path.starts_with('?') || path.starts_with('#')) path = {};
  if (path.starts_with('/')) path.remove_prefix(1);
  if (const auto q = path.find_first_of("?#"); q != std::string_view::npos)
    path = path.substr(0, q);
  if (path.find(';') != std::string_view::npos) {
    return std::unexpected("the IMAP URL must name only a mailbox (no ;UID or ;UIDVALIDITY)");
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  auto mailbox = percent_decode(path);
  if (!mailbox) return std::unexpected(mailbox.error());
  if (has_control(*mailbox)) return std::unexpected("the mailbox name contains control characters");
  out.mailbox = mailbox->empty() ? "INBOX" : std::move(*mailbox);
  // Same rule as transport: STARTTLS for clear text to anything but loopback (RFC 3501 6.2.1).
  if (out.tls == security::plain && ep.starttls && !is_loopback_host(out.host))
    out.tls = security::starttls;
  return out;
}

std::expected<std::string, std::string> imap_quoted(std::string_view text) {
  if (has_control(text)) return std::unexpected("contains CR, LF or NUL, which IMAP cannot quote");
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');  // quoted-specials (RFC 3501 section 9)
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace supportd::idle::detail
