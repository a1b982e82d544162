#pragma once
// A parsed inbound message: everything later stages need, already decoded to UTF-8.

#include <cstddef>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::mime {

/// One header field as it appeared (name as written, value unfolded; RFC 2047 decoded to UTF-8).
struct header_field {
  std::string name;
  std::string value;
};

/// A mailbox from an address header: display name (UTF-8) and addr-spec ("local@domain").
struct mailbox {
  std::string name;
  std::string address;  // lower-cased domain; empty when unparseable
};

/// Limits that keep one hostile message from exhausting memory or stack.
struct parse_limits {
  std::size_t max_message_bytes = 25 * 1024 * 1024;
  std::size_t max_mime_depth = 20;
  std::size_t max_parts = 200;
  std::size_t max_header_bytes = 256 * 1024;
  std::size_t max_body_text_bytes = 1024 * 1024;  // decoded text kept for classification
};

struct parsed_message {
  std::vector<header_field> headers;  // in order, decoded
  std::string message_id;             // without angle brackets; empty if absent
  std::string in_reply_to;            // first msg-id, without angle brackets
  std::vector<std::string> references;  // msg-ids without angle brackets, in order
  std::optional<mailbox> from;
  std::optional<mailbox> reply_to;
  std::vector<mailbox> to;
  std::vector<mailbox> cc;
  std::string subject;                // decoded, unfolded UTF-8; CR/LF never present
  std::optional<std::string> return_path;  // present-but-empty "<>" gives "" (a bounce)
  std::string content_type;           // top-level type/subtype, lower case ("text/plain")
  std::string body_charset;           // charset of the chosen text part as labelled/guessed
  std::string body_text;              // chosen body as UTF-8 (text/plain preferred; HTML stripped)
  std::string new_text;               // body_text without quoted earlier mail and signature
  std::vector<std::string> defects;   // non-fatal problems met while parsing (for the log)

  /// First header value with this name (case-insensitive), or nullopt.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
  /// True if any header with this name exists (case-insensitive).
  [[nodiscard]] bool has_header(std::string_view name) const;
};

enum class parse_errc {
  too_large,      // over max_message_bytes
  too_deep,       // MIME nesting over max_mime_depth
  too_many_parts, // over max_parts
  no_headers,     // not an RFC 5322 message at all
  internal,       // library threw; message kept in `detail`
};

struct parse_error {
  parse_errc code;
  std::string detail;
};

/// Parses a raw RFC 5322 message (CRLF, LF or CR line endings). Never throws.
[[nodiscard]] std::expected<parsed_message, parse_error> parse_message(
    std::string_view raw, const parse_limits& limits = {});

/// Converts bytes in `charset` (any label a mail client writes) to UTF-8. Unknown labels and
/// invalid sequences never fail: they fall back to a guess and U+FFFD respectively.
[[nodiscard]] std::string to_utf8(std::string_view bytes, std::string_view charset);

/// Decodes RFC 2047 encoded-words in a header value (adjacent encoded-words joined, RFC 2047 §6.2);
/// raw 8-bit header bytes are guessed like unlabelled text.
[[nodiscard]] std::string decode_header_value(std::string_view value);

/// Removes quoted earlier mail ("> ...", "On ... wrote:", "在 ... 写道:", Outlook "From:" blocks)
/// and a trailing signature ("-- ") from a UTF-8 body.
[[nodiscard]] std::string strip_quotes_and_signature(std::string_view body);

/// Text of an HTML document: tags, scripts and styles dropped, entities decoded, blocks as lines.
[[nodiscard]] std::string html_to_text(std::string_view html);

}  // namespace supportd::mime
