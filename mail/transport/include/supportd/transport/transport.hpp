#pragma once
// IMAP and SMTP over libcurl (blocking easy handles, reused so one session serves many
// operations). Results are values: an error says whether retrying can help.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace supportd::transport {

enum class error_kind {
  transient,   // connection refused/lost, timeout, 4xx: retry later
  permanent,   // 5xx for this message (e.g. unknown recipient): do not retry
  auth,        // login failed: configuration or credentials
  config,      // refused by our own rules (e.g. clear text to a non-loopback host)
  aborted,     // stop was requested
};

struct error {
  error_kind kind = error_kind::transient;
  int code = 0;         // SMTP reply code or CURLcode
  std::string message;  // for the log; never contains a password
};

/// Connection settings shared by IMAP and SMTP.
struct endpoint {
  std::string url;       // imap://, imaps://, smtp://, smtps:// (IMAP URL path = mailbox)
  std::string user;      // empty: no authentication
  std::string password;  // already read from file/environment
  bool allow_plaintext = false;  // permit clear text to a non-loopback host
  bool starttls = true;          // require STARTTLS on imap:// and smtp:// to non-loopback hosts
  std::chrono::seconds connect_timeout{15};
  std::chrono::seconds timeout{120};
  std::string ca_file;            // optional CA bundle
  bool insecure_skip_verify = false;  // tests only
};

/// Rejects a clear-text URL to a non-loopback host unless allowed (our config rule).
[[nodiscard]] std::expected<void, error> check_endpoint(const endpoint& ep);

struct mailbox_status {
  std::int64_t uidvalidity = 0;
  std::int64_t uidnext = 0;
  std::int64_t messages = 0;
};

/// One IMAP mailbox. Not thread-safe; use from one thread.
class imap_client {
 public:
  /// `stop` (may be null) aborts a transfer in progress when set.
  explicit imap_client(endpoint ep, const std::atomic<bool>* stop = nullptr);
  ~imap_client();
  imap_client(const imap_client&) = delete;
  imap_client& operator=(const imap_client&) = delete;

  /// Mailbox name from the URL path (percent-decoded), e.g. "INBOX".
  [[nodiscard]] const std::string& mailbox() const;
  /// STATUS mailbox (UIDVALIDITY UIDNEXT MESSAGES).
  std::expected<mailbox_status, error> status();
  /// UIDs in the mailbox greater than `after`, ascending (searched in bounded ranges).
  std::expected<std::vector<std::int64_t>, error> uids_after(std::int64_t after,
                                                             std::int64_t uidvalidity);
  /// The raw message with this UID (pinned to UIDVALIDITY). Note: libcurl 7.88 fetches BODY[],
  /// which sets \Seen as a side effect.
  std::expected<std::string, error> fetch(std::int64_t uid, std::int64_t uidvalidity);
  /// Arrival times (INTERNALDATE, RFC 3501 §2.3.3) of the messages with UIDs in [first, last],
  /// as (uid, unix seconds) pairs; one round trip per 50 UIDs. Reads no body, so no \\Seen
  /// side effect.
  std::expected<std::vector<std::pair<std::int64_t, std::int64_t>>, error> internal_dates(
      std::int64_t first, std::int64_t last, std::int64_t uidvalidity);
  /// UID STORE uid +FLAGS (flags), e.g. "\\Answered \\Seen".
  /// The same for many messages in one round trip (a UID set, RFC 3501 §9 sequence-set).
  std::expected<void, error> add_flags(const std::vector<std::int64_t>& uids,
                                       std::int64_t uidvalidity, std::string_view flags);
  std::expected<void, error> add_flags(std::int64_t uid, std::int64_t uidvalidity,
                                       std::string_view flags);
  /// A cheap round trip (NOOP) proving the session is alive.
  std::expected<void, error> noop();
  /// UIDs per UID SEARCH in uids_after (default 5000, keeps each response line well below
  /// libcurl's buffer); tests lower it to cover several windows.
  void set_search_window(std::int64_t uids);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

/// An SMTP submission connection, reused across messages.
class smtp_client {
 public:
  explicit smtp_client(endpoint ep, const std::atomic<bool>* stop = nullptr);
  ~smtp_client();
  smtp_client(const smtp_client&) = delete;
  smtp_client& operator=(const smtp_client&) = delete;

  /// Sends one finished message (CRLF). envelope_from "" sends MAIL FROM:<>.
  std::expected<void, error> send(std::string_view envelope_from,
                                  const std::vector<std::string>& recipients,
                                  std::string_view data);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

/// Call once at program start (curl_global_init).
void global_init();

}  // namespace supportd::transport
