#pragma once
// An incremental parser for the IMAP server responses an IDLE watcher needs (RFC 3501 section 7,
// RFC 2177). Pure: bytes in, responses out, so tests feed it strings split at any position.

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::idle::detail {

/// Which of the three response forms a line is (RFC 3501 section 2.2.2).
enum class response_kind {
  untagged,      // "* ..."
  tagged,        // "tag OK|NO|BAD ..."
  continuation,  // "+ ..." (for IDLE: the server is idling, RFC 2177 section 3)
};

/// The status condition of a status response (RFC 3501 section 7.1); none for data responses.
enum class condition { none, ok, no, bad, preauth, bye };

/// One parsed server response. Literal contents are skipped, never kept.
struct response {
  response_kind kind = response_kind::untagged;
  std::string tag;                      // tagged only
  condition cond = condition::none;     // OK/NO/BAD/PREAUTH/BYE
  std::optional<std::uint64_t> number;  // "* 23 EXISTS" -> 23
  std::string keyword;                  // upper case: "OK", "CAPABILITY", "EXISTS", "FETCH", ...
  std::optional<std::vector<std::string>> capabilities;  // upper case, from data or [CAPABILITY]
  std::string text;  // human-readable rest for logs (resp-text without its [code])
};

/// Why the byte stream cannot be IMAP; the connection must be dropped.
struct parse_error {
  std::string message;
};

/// Parses one complete logical response line (CRLF and literal contents already removed).
[[nodiscard]] std::expected<response, parse_error> parse_response_line(std::string_view line);

/// Whether a line so far may carry literals: status responses ("* OK", "tag NO", "+ ...")
/// end in free text (RFC 3501 resp-text), where "{5}" is just text.
[[nodiscard]] bool may_contain_literals(std::string_view line_start);

/// Splits the byte stream into responses; skips literal {n} octets (RFC 3501 section 4.3)
/// without buffering them, so a huge literal costs no memory.
class response_parser {
 public:
  static constexpr std::size_t default_max_line = 64 * 1024;

  /// `max_line`: longest response line (without literals) before the stream is rejected.
  explicit response_parser(std::size_t max_line = default_max_line);

  /// Appends received bytes.
  void feed(std::string_view bytes);

  /// The next complete response, nullopt when more bytes are needed; an error is sticky.
  [[nodiscard]] std::expected<std::optional<response>, parse_error> next();

  /// Bytes received but not yet part of a returned response (STARTTLS must see none, since
  /// anything sent before the handshake could be injected plaintext).
  [[nodiscard]] std::size_t pending_bytes() const;

 private:
  std::string buffer_;      // unconsumed received bytes
  std::string line_;        // the logical line built so far (literal markers kept)
  std::uint64_t skip_ = 0;  // literal octets still to discard
  std::size_t max_line_;
  std::optional<parse_error> failed_;
};

}  // namespace supportd::idle::detail
