#pragma once
// Writing an outgoing RFC 5322 message (our replies). Every value is sanitised: no CR, LF or NUL
// from any input can reach the output as a header break (header injection is impossible).

#include <string>
#include <string_view>
#include <vector>

#include "supportd/mime/message.hpp"

namespace supportd::reply {

using mime::header_field;
using mime::mailbox;

struct outgoing_message {
  mailbox from;
  std::vector<mailbox> to;
  std::string subject;                  // UTF-8; RFC 2047 B-encoded when not ASCII
  std::string message_id;               // without angle brackets
  std::string in_reply_to;              // without angle brackets; omitted when empty
  std::vector<std::string> references;  // without angle brackets
  std::string date;                     // RFC 5322 date; now() when empty
  std::vector<header_field> extra_headers;  // e.g. Auto-Submitted, X-Auto-Response-Suppress
  std::string body_text;                // UTF-8 plain text, any line endings
};

/// The message as bytes ready for SMTP DATA: CRLF line endings, lines folded/encoded to stay
/// under 998 octets, MIME-Version 1.0, text/plain; charset=utf-8, 8bit or quoted-printable body.
[[nodiscard]] std::string compose(const outgoing_message& msg);

/// RFC 5322 date-time for the given Unix time (UTC, "+0000").
[[nodiscard]] std::string format_date(long long unix_seconds);

/// Formats a mailbox as `"Name" <addr>` (name RFC 2047-encoded when not ASCII) or `<addr>`.
[[nodiscard]] std::string format_mailbox(const mailbox& mb);

/// Parses one address like `OKPay Support <support@okpay-wallet.example>`.
[[nodiscard]] mailbox parse_mailbox(std::string_view text);

}  // namespace supportd::reply
