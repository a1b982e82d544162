#pragma once
// The IMAP connection that fetches message bodies in batches. libcurl 7.88 runs one UID FETCH
// per transfer and cannot read literals of a custom command, so this connection is opened by
// libcurl with CURLOPT_CONNECT_ONLY (TCP, TLS or STARTTLS, CAPABILITY and login: all of
// libcurl's endpoint rules) and then spoken to directly: EXAMINE, and UID FETCH of a UID set
// with BODY.PEEK[] (RFC 3501 6.4.5, 6.4.8), whose literals response_reader splits out.
// The reader and the FETCH parser are pure, so tests feed them bytes in any split.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/curl_session.hpp"
#include "supportd/transport/transport.hpp"

namespace supportd::transport::detail {

/// One whole server response (RFC 3501 section 7): its lines, CRLFs removed, with each
/// literal's "{n}" marker left in the text and the literal's bytes kept aside, in order.
struct imap_response_unit {
  std::string text;
  /// The literals in order of their markers; nullopt for one over the reader's size limit
  /// (its bytes were read and dropped, so the stream stays in step).
  std::vector<std::optional<std::string>> literals;
  /// Where each literal sits in `text`: the offset just after its marker's "}".
  std::vector<std::size_t> literal_at;
};

/// Splits a byte stream from an IMAP server into whole responses. A line that ends in a
/// literal marker "{n}" (or "{n+}") continues after the n literal bytes (RFC 3501 4.3).
class response_reader {
 public:
  /// Literals over `max_literal` are dropped (and reported as nullopt); a line without a
  /// literal longer than `max_line` is a protocol error.
  explicit response_reader(std::size_t max_literal, std::size_t max_line = 1024 * 1024);

  /// Appends bytes received from the server.
  void feed(std::string_view bytes);
  /// The next whole response, once its last line has arrived; nullopt until then or after
  /// an error.
  std::optional<imap_response_unit> next();
  /// Why the stream cannot be read on (empty while it can).
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  std::string buffer_;
  std::size_t pos_ = 0;
  imap_response_unit current_;
  std::size_t literal_left_ = 0;
  bool in_literal_ = false;
  bool dropping_ = false;
  std::size_t max_literal_;
  std::size_t max_line_;
  std::string error_;
};

/// The items of "* n FETCH (...)" we ask for; any order, other items skipped.
struct fetch_items {
  std::int64_t uid = 0;
  std::optional<std::int64_t> size;           // RFC822.SIZE
  std::optional<std::int64_t> internal_date;  // INTERNALDATE as unix seconds
  bool has_body = false;                      // BODY[] was in the response
  std::optional<std::string> body;            // its bytes; nullopt if NIL or over the limit
};

/// The items of an untagged FETCH response; nullopt for any other response or a FETCH
/// response without a UID.
[[nodiscard]] std::optional<fetch_items> parse_fetch(const imap_response_unit& response);

/// "tag OK ...", "tag NO ...", "tag BAD ...": the status word when `response` is the tagged
/// completion of `tag`, else empty.
[[nodiscard]] std::string_view tagged_status(const imap_response_unit& response, std::string_view tag);

/// The value of a response code "[NAME value]" in an untagged OK, e.g. UIDVALIDITY.
[[nodiscard]] std::optional<std::int64_t> response_code_number(const imap_response_unit& response,
                                                              std::string_view name);

/// "3,5:9,12" for the UIDs given (sorted, runs collapsed).
[[nodiscard]] std::string uid_set(std::vector<std::int64_t> uids);

/// An IMAP session for commands libcurl cannot run: libcurl connects and logs in
/// (CURLOPT_CONNECT_ONLY), then commands go over its connection with curl_easy_send/recv.
/// Blocking, bounded by the endpoint's timeout, and abortable by the stop flag.
class raw_imap_session {
 public:
  raw_imap_session(const endpoint& ep, const parsed_url& url, const std::atomic<bool>* stop);
  ~raw_imap_session();
  raw_imap_session(const raw_imap_session&) = delete;
  raw_imap_session& operator=(const raw_imap_session&) = delete;

  /// Sends one command (a tag is added) and passes each response before its tagged
  /// completion to `on_response`; returns the completion's status word: "OK", "NO" or "BAD".
  /// Connects and logs in first when there is no connection. On a failure the connection is
  /// closed, so the next command starts on a new one.
  std::expected<std::string, error> command(std::string_view text,
                                            const std::function<void(imap_response_unit&)>& on_response);
  /// True when the next command runs on a connection that earlier commands used.
  [[nodiscard]] bool warm() const { return session_ != nullptr && commands_ > 0; }
  /// Closes the connection (the next command opens a new one).
  void close();

 private:
  std::expected<void, error> connect();
  std::expected<void, error> send_all(std::string_view bytes);
  std::expected<void, error> wait_readable();
  [[nodiscard]] error failure(std::string message) const;

  endpoint endpoint_;
  parsed_url url_;
  const std::atomic<bool>* stop_;
  std::unique_ptr<curl_session> session_;
  response_reader reader_{curl_session::max_body};
  long commands_ = 0;
};

}  // namespace supportd::transport::detail
