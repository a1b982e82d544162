#pragma once
// IMAP and SMTP over libcurl (blocking easy handles, reused so one session serves many
// operations). Results are values: an error says whether retrying can help.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
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

/// One message from imap_client::fetch_many.
struct fetched_message {
  std::int64_t uid = 0;
  std::int64_t internal_date = 0;  // arrival time (RFC 3501 INTERNALDATE), unix seconds; 0 if unknown
  std::expected<std::string, error> raw;
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
  /// The raw messages with these UIDs (pinned to UIDVALIDITY), with their arrival times, in
  /// the order asked: one EXAMINE and a few UID FETCH round trips for the whole list, on a
  /// second connection (BODY.PEEK[]: fetching sets no flag). The call fails as a whole when
  /// the session or the mailbox is unusable (UIDVALIDITY changed, server down); a single
  /// message fails on its own (permanent) when it is gone or over the 64 MiB limit. When the
  /// messages add up to more than 64 MiB, only the first ones come (at least one): ask again
  /// for the rest.
  std::expected<std::vector<fetched_message>, error> fetch_many(std::span<const std::int64_t> uids,
                                                                std::int64_t uidvalidity);
  /// One message: fetch_many of one UID.
  std::expected<std::string, error> fetch(std::int64_t uid, std::int64_t uidvalidity);
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
