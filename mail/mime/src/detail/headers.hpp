#pragma once
// Structured header parsing: address lists and message identifiers.

#include <string>
#include <string_view>
#include <vector>

#include "supportd/mime/message.hpp"

namespace supportd::mime::detail {

/// Parses an RFC 5322 §3.4 address-list (raw, undecoded value) into mailboxes; group names are
/// dropped, display names are RFC 2047 decoded, domains lower-cased.
std::vector<mailbox> parse_address_list(std::string_view raw);

/// Extracts msg-ids (RFC 5322 §3.6.4) without angle brackets, in order.
std::vector<std::string> parse_msg_ids(std::string_view raw);

/// Whether a header value holds encoded-words or 8-bit bytes (else it decodes to itself).
[[nodiscard]] bool needs_decoding(std::string_view value) noexcept;

/// Whether decode_header_value() returns a value unchanged: 7-bit, no control characters and
/// no encoded-words.
[[nodiscard]] bool is_plain_header_text(std::string_view value) noexcept;

/// decode_header_value() of a value the caller no longer needs: plain text is cleaned in place.
[[nodiscard]] std::string decode_header_text(std::string&& value);

/// Drops NUL and other C0 controls, turns CR/LF/TAB into spaces (no header injection).
void sanitize_header_text(std::string& s);

}  // namespace supportd::mime::detail
