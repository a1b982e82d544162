#pragma once
// Pure URL rules for endpoints: which scheme, which host, TLS or not, which mailbox.
// Kept free of I/O so the security rules are unit-tested without a server.

#include <expected>
#include <string>
#include <string_view>

#include "supportd/transport/transport.hpp"

namespace supportd::transport::detail {

enum class protocol { imap, smtp };

/// The parts of an endpoint URL that our rules and requests need.
struct parsed_url {
  protocol proto = protocol::imap;
  bool implicit_tls = false;  // imaps:// or smtps:// (TLS from the first byte)
  std::string scheme;         // lower case, as curl normalises it
  std::string host;           // without brackets for IPv6
  std::string base;           // scheme://host[:port]/ without user info or path
  std::string display;        // scheme://host[:port] for messages (never credentials)
  std::string mailbox;        // IMAP only: percent-decoded path, "INBOX" when empty
};

/// True for 127.0.0.0/8, ::1 (also IPv4-mapped 127/8) and "localhost".
[[nodiscard]] bool is_loopback_host(std::string_view host);

/// Splits an endpoint URL; rejects unknown schemes, embedded passwords and bad mailbox names.
[[nodiscard]] std::expected<parsed_url, error> parse_endpoint_url(std::string_view url);

/// Whether a clear-text URL must upgrade with STARTTLS (RFC 3501 6.2.1, RFC 3207).
[[nodiscard]] bool needs_starttls(const parsed_url& url, const endpoint& ep);

/// Quotes a mailbox name as an IMAP quoted string (RFC 3501 section 4.3).
[[nodiscard]] std::string imap_quote(std::string_view text);

}  // namespace supportd::transport::detail
