#pragma once
// Values the daemon pushes for /metrics (the store-derived counts are computed per scrape).
// Every member is thread-safe: the poller's worker thread writes, the web server reads.

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

namespace supportd::web {

class metrics {
 public:
  /// Age in seconds of the oldest message fetched in the last cycle when it was fetched
  /// (arrival to fetch).
  void set_fetch_lag(double seconds);
  /// Duration of one SMTP send attempt that the server accepted.
  void observe_smtp_send(double seconds);
  /// One failed SMTP send attempt; `permanent` for a 5xx that will not be retried.
  void count_smtp_failure(bool permanent);
  /// One failed IMAP poll (connection or protocol error).
  void count_imap_failure();
  /// Unix time of the end of the last poll that reached the IMAP server and finished.
  void set_last_successful_poll(std::int64_t unix_seconds);

  /// These values in the Prometheus text exposition format 0.0.4.
  [[nodiscard]] std::string render() const;

  /// Upper bounds (seconds) of the SMTP latency histogram buckets; +Inf is implicit.
  static constexpr std::array<double, 10> smtp_buckets = {0.05, 0.1, 0.25, 0.5, 1,
                                                          2.5,  5,   10,   30,  60};

 private:
  mutable std::mutex mutex_;
  double fetch_lag_ = 0;
  std::array<std::uint64_t, smtp_buckets.size()> smtp_bucket_counts_{};  // not cumulative
  std::uint64_t smtp_count_ = 0;
  double smtp_sum_ = 0;
  std::uint64_t smtp_transient_failures_ = 0;
  std::uint64_t smtp_permanent_failures_ = 0;
  std::uint64_t imap_failures_ = 0;
  std::int64_t last_successful_poll_ = 0;
};

}  // namespace supportd::web
