#include "supportd/web/metrics.hpp"

#include <cstddef>

#include "detail/exposition.hpp"

namespace supportd::web {

void metrics::set_fetch_lag(double seconds) {
  std::lock_guard lock(mutex_);
  fetch_lag_ = seconds;
}

void metrics::observe_smtp_send(double seconds) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < smtp_buckets.size(); ++i) {
    if (seconds <= smtp_buckets[i]) {
      ++smtp_bucket_counts_[i];
      break;
    }
  }
  ++smtp_count_;
  smtp_sum_ += seconds;
}

void metrics::count_smtp_failure(bool permanent) {
  std::lock_guard lock(mutex_);
  ++(permanent ? smtp_permanent_failures_ : smtp_transient_failures_);
}

void metrics::count_imap_failure() {
  std::lock_guard lock(mutex_);
  ++imap_failures_;
}

void metrics::set_last_successful_poll(std::int64_t unix_seconds) {
  std::lock_guard lock(mutex_);
  last_successful_poll_ = unix_seconds;
}

std::string metrics::render() const {
  std::lock_guard lock(mutex_);
  detail::exposition out;
  out.family("supportd_fetch_lag_seconds",
             "Delay between a message's arrival and its fetch, in the last poll cycle.", "gauge");
  out.sample("supportd_fetch_lag_seconds", fetch_lag_);

  out.family("supportd_smtp_send_duration_seconds",
             "Duration of SMTP send attempts the server accepted.", "histogram");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < smtp_buckets.size(); ++i) {
    cumulative += smtp_bucket_counts_[i];
    const auto le = detail::format_value(smtp_buckets[i]);
    out.sample("supportd_smtp_send_duration_seconds_bucket", {{"le", le}},
               static_cast<double>(cumulative));
  }
  out.sample("supportd_smtp_send_duration_seconds_bucket", {{"le", "+Inf"}},
             static_cast<double>(smtp_count_));
  out.sample("supportd_smtp_send_duration_seconds_sum", smtp_sum_);
  out.sample("supportd_smtp_send_duration_seconds_count", static_cast<double>(smtp_count_));

  out.family("supportd_smtp_failures_total", "Failed SMTP send attempts.", "counter");
  out.sample("supportd_smtp_failures_total", {{"kind", "transient"}},
             static_cast<double>(smtp_transient_failures_));
  out.sample("supportd_smtp_failures_total", {{"kind", "permanent"}},
             static_cast<double>(smtp_permanent_failures_));

  out.family("supportd_imap_failures_total", "Failed IMAP polls.", "counter");
  out.sample("supportd_imap_failures_total", static_cast<double>(imap_failures_));

  out.family("supportd_last_successful_poll_timestamp_seconds",
             "Unix time of the end of the last successful IMAP poll (0: none yet).", "gauge");
  out.sample("supportd_last_successful_poll_timestamp_seconds",
             static_cast<double>(last_successful_poll_));
  return out.text();
}

}  // namespace supportd::web
