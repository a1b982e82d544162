#pragma once
// Where the IDLE connection goes and how it is secured, derived from transport::endpoint.
// Pure (no I/O), so the security decisions are unit-tested.

#include <expected>
#include <string>
#include <string_view>

#include "supportd/transport/transport.hpp"

namespace supportd::idle::detail {

/// How the connection is protected.
enum class security {
  plain,     // imap:// to loopback (or allow_plaintext without starttls)
  starttls,  // imap:// upgraded before LOGIN (RFC 3501 section 6.2.1)
  implicit,  // imaps:// (TLS from the first byte, RFC 8314)
};

/// The parts of an IMAP URL the watcher needs.
struct imap_target {
  std::string host;     // without brackets for IPv6
  std::string port;     // "143"/"993" when the URL has none
  std::string mailbox;  // percent-decoded path, "INBOX" when empty
  security tls = security::plain;
};

/// True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z, "localhost" and "*.localhost" (RFC 6761 6.3).
[[nodiscard]] bool is_loopback_host(std::string_view host);

/// Splits imap[s]://[user@]host[:port][/mailbox] and decides the security from the endpoint's
/// rules (the clear-text policy itself is transport::check_endpoint's). Errors are messages.
[[nodiscard]] std::expected<imap_target, std::string> make_target(const transport::endpoint& ep);

/// An RFC 3501 quoted string (section 4.3); an error when the text holds CR, LF or NUL, which a
/// quoted string cannot carry.
[[nodiscard]] std::expected<std::string, std::string> imap_quoted(std::string_view text);

}  // namespace supportd::idle::detail
