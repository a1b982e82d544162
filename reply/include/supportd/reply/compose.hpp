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
  std::string subject;      // UTF-8; RFC 2047 B-encoded when not ASCII
  std::string message_id;   // without angle brackets; generated when empty
  std::string in_reply_to;  // without angle brackets; omitted when empty
  // The inbound's References, without angle brackets. compose() appends in_reply_to and keeps
  // the first id plus the last 10 (RFC 5322 §3.6.4); omitted when the result is empty.
  std::vector<std::string> references;
  std::string date;  // RFC 5322 date; now() when empty
  // Written after the MIME headers, in order, e.g. Auto-Submitted, X-Auto-Response-Suppress.
  // Skipped: invalid names, fields compose() writes itself, Sender, Bcc and Return-Path.
  std::vector<header_field> extra_headers;
  std::string body_text;  // UTF-8 plain text, any line endings
};

/// The message as bytes ready for SMTP DATA: CRLF line endings, header lines folded to 78
/// columns (never over 998 octets), MIME-Version 1.0, text/plain; charset=utf-8. The body is 7bit
/// when it is ASCII with lines of at most 998 octets, else quoted-printable or base64, whichever
/// is shorter: curl does not send BODY=8BITMIME (RFC 6152 §3), so 8-bit bodies are never sent.
[[nodiscard]] std::string compose(const outgoing_message& msg);

/// RFC 5322 date-time for the given Unix time (UTC, "+0000").
[[nodiscard]] std::string format_date(long long unix_seconds);

/// Formats a mailbox as `"Name" <addr>` (name RFC 2047-encoded when not ASCII) or `<addr>`.
[[nodiscard]] std::string format_mailbox(const mailbox& mb);

/// Parses one address like `OKPay Support <support@okpay-wallet.example>`, `"Last, First" <a@b>`,
/// `a@b` or `a@b (Name)`; encoded-words are not decoded. Address empty when unparseable.
[[nodiscard]] mailbox parse_mailbox(std::string_view text);

}  // namespace supportd::reply
