#include "supportd/daemon/poller.hpp"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <future>
#include <map>
#include <random>

#include "supportd/daemon/log.hpp"
#include "supportd/reply/compose.hpp"

namespace supportd::daemon {

namespace {

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

/// Exponential backoff with jitter for SMTP retries: base, 2×base, … capped at max; the jitter
/// keeps many queued replies from retrying in lockstep against a recovering server.
std::int64_t retry_delay(const smtp_settings& smtp, int attempts) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  std::int64_t delay = smtp.retry_base.count() << std::min(attempts, 20);
  delay = std::min<std::int64_t>(delay, smtp.retry_max.count());
  std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(delay / 4, 0));
  return delay + jitter(rng);
}

std::string describe(const std::string& what, const transport::error& e) {
  return what + ": " + e.message + " (code " + std::to_string(e.code) + ")";
}

}  // namespace

// Defined before its first use: in C++23 make_unique and unique_ptr's destructor are constexpr,
// and clang instantiates them where they are used, so the type must be complete there.
/// One SMTP connection and the store connection its thread records sends on.
struct poller::sender {
  sender(const settings& s, const std::atomic<bool>& stop) : smtp(s.smtp.endpoint, &stop) {}
  transport::smtp_client smtp;
  std::unique_ptr<store::store> db;  // opened on the sending thread's first use
};

poller::poller(const settings& s, store::store& db, runtime_source current_runtime,
               const std::atomic<bool>& stop, std::shared_ptr<web::metrics> metrics)
    : settings_(s),
      db_(db),
      runtime_(std::move(current_runtime)),
      stop_(stop),
      imap_(s.imap.endpoint, &stop),
      pipeline_(s, db),
      metrics_(std::move(metrics)) {
  for (int k = 0; k < std::max(s.smtp.connections, 1); ++k)
    senders_.push_back(std::make_unique<sender>(s, stop));
}

poller::~poller() {
  cycle_report ignored;
  finish_delivery(ignored);  // no sending thread outlives the poller
}

cycle_report poller::run_cycle() {
  cycle_report report;
  try {
    auto status = imap_.status();
    if (!status && stop_) return report;  // a transfer aborted for shutdown is not an outage
    if (!status) {
      if (metrics_) metrics_->count_imap_failure();
      if (!imap_down_)
        log::error("stage=fetch outcome=imap_unavailable reason=\"" +
                   describe("IMAP status", status.error()) + "\"");
      imap_down_ = true;
      deliver_outbox(report);  // replies already decided need not wait for IMAP
      return report;
    }
    if (imap_down_) log::info("stage=fetch outcome=imap_recovered");
    imap_down_ = false;

    const std::string& mailbox = imap_.mailbox();
    const std::int64_t validity = status->uidvalidity;
    auto known = db_.mailbox_uidvalidity(mailbox);
    if (!known || *known != validity) {
      // RFC 3501 §2.3.1.1: a new UIDVALIDITY invalidates every UID we knew; the ledger keys by
      // validity, so the mailbox is read afresh and Message-IDs stop duplicates.
      if (known)
        log::warning("stage=fetch mailbox=" + mailbox + " outcome=uidvalidity_changed old=" +
                     std::to_string(*known) + " new=" + std::to_string(validity));
      db_.set_mailbox_uidvalidity(mailbox, validity);
    }

    auto uids = imap_.uids_after(db_.last_seen_uid(mailbox, validity), validity);
    if (!uids) {
      if (stop_) return report;
      log::warning("stage=fetch outcome=search_failed reason=\"" +
                   describe("UID SEARCH", uids.error()) + "\"");
      return report;
    }
    if (!uids->empty()) {
      store::store::transaction tx(db_);
      for (auto uid : *uids)
        if (db_.note_seen({mailbox, validity, uid})) ++report.fetched;
      tx.commit();
    }
    report.imap_ok = true;
    if (metrics_) metrics_->set_last_successful_poll(now_seconds());

    process_pending(validity, report);
    follow_up(now_seconds());
    deliver_outbox(report);
    flag_finished(validity, report);
  } catch (const std::exception& e) {
    log::error(std::string("stage=cycle outcome=error reason=\"") + e.what() + "\"");
  }
  finish_delivery(report);  // no sending outlives its cycle
  release_memory();
  return report;
}

void poller::process_pending(std::int64_t validity, cycle_report& report) {
  const std::string& mailbox = imap_.mailbox();
  while (!stop_) {
    auto pending = db_.pending_inbound(mailbox, validity, settings_.imap.batch_size);
    if (pending.empty()) return;
    // The whole batch in a few round trips, with arrival times (the backlog rule needs them).
    std::vector<std::int64_t> uids;
    for (const auto& key : pending) uids.push_back(key.uid);
    auto batch = imap_.fetch_many(uids, validity);
    if (!batch && stop_) return;  // aborted for shutdown: the messages stay pending
    if (!batch) {
      log::warning("stage=fetch outcome=fetch_failed reason=\"" + describe("UID FETCH", batch.error()) + "\"");
      report.imap_ok = false;
      return;  // the session is gone or the mailbox changed: the next cycle starts afresh
    }
    for (std::size_t i = 0; i < batch->size(); ++i) {  // a prefix of pending, if they were big
      if (stop_) return;
      const auto& key = pending[i];
      auto& fetched = (*batch)[i];
      if (!fetched.raw) {
        // This message cannot be fetched (gone, or over the size limit): it must not block the
        // mailbox. After max_attempts it is quarantined for an agent; it stays in IMAP.
        std::string why = describe("UID FETCH", fetched.raw.error());
        int attempts = db_.note_attempt_failed(key, why);
        log::error("stage=fetch uid=" + std::to_string(key.uid) + " attempt=" +
                   std::to_string(attempts) + " outcome=fetch_failed reason=\"" + why + "\"");
        if (attempts >= max_attempts) {
          pipeline_.quarantine(key, "cannot fetch: " + why, now_seconds());
          ++report.quarantined;
        }
        continue;
      }
      const std::string raw = std::move(*fetched.raw);
      try {
        auto rt = runtime_();
        outcome o = pipeline_.process(key, raw, *rt, now_seconds(), fetched.internal_date);
        if (metrics_ && fetched.internal_date > 0)
          metrics_->set_fetch_lag(static_cast<double>(now_seconds() - fetched.internal_date));
        ++report.processed;
        log::info("stage=record uid=" + std::to_string(key.uid) + " thread=" + o.ticket +
                  " outcome=" + o.decision + (o.reason.empty() ? "" : " reason=\"" + o.reason + "\""));
      } catch (const std::exception& e) {
        int attempts = db_.note_attempt_failed(key, e.what());
        log::error("stage=process uid=" + std::to_string(key.uid) + " attempt=" +
                   std::to_string(attempts) + " reason=\"" + e.what() + "\"");
        if (attempts >= max_attempts) {
          pipeline_.quarantine(key, std::string("failed ") + std::to_string(attempts) +
                                        " times: " + e.what(),
                               now_seconds());
          ++report.quarantined;
        }
      }
    }
    // Replies go out batch by batch, so a long backlog answers its first customers early, and
    // in the background: the SMTP connections work while the next batch is fetched and decided.
    finish_delivery(report);
    start_delivery();
    flag_finished(validity, report);
  }
}

void poller::follow_up(std::int64_t now) {
  const auto& f = settings_.followup;
  std::vector<store::thread_row> overdue;
  for (const auto& t : db_.list_threads(store::thread_status::escalated, 1000)) {
    auto deadline = std::chrono::duration_cast<std::chrono::seconds>(f.deadline_for(t.category));
    if (now - t.updated_at < deadline.count()) continue;
    overdue.push_back(t);
    if (t.priority > 0) continue;
    db_.set_thread_priority(t.id, 1);
    log::warning("stage=followup thread=" + t.ticket + " outcome=overdue category=" + t.category +
                 " reason=\"no answer within " + std::to_string(f.deadline_for(t.category).count()) +
                 "h: priority raised\"");
  }
  if (f.digest_to.empty() || overdue.empty()) return;
  const std::int64_t day = now / 86400;
  if (day == digest_day_ || (now % 86400) / 3600 < f.digest_hour) return;
  // One digest a day: its Message-ID names the day, and the outbox takes a Message-ID once.
  std::string body = "Escalated threads past their response deadline (" +
                     std::to_string(overdue.size()) + "):\n\n";
  for (const auto& t : overdue)
    body += "  [#" + t.ticket + "]  " + t.category + "  waiting " +
            std::to_string((now - t.updated_at) / 3600) + "h  " + t.customer_address + "  " +
            t.subject + "\n";
  body += "\nReview them with `supportd threads list --status escalated` or the agents' page.\n";
  reply::outgoing_message digest;
  digest.from = settings_.reply.from;
  digest.to.push_back(reply::parse_mailbox(f.digest_to));
  digest.subject = "supportd: " + std::to_string(overdue.size()) + " overdue threads";
  digest.message_id = "digest." + std::to_string(day) + "@" + settings_.reply.message_id_domain;
  digest.date = reply::format_date(now);
  digest.extra_headers = {{"Auto-Submitted", "auto-generated"}};  // RFC 3834 §5
  digest.body_text = body;
  store::outbox_row row;
  row.message_id = digest.message_id;
  row.envelope_from = settings_.smtp.envelope_from;
  row.recipients = {digest.to.front().address};
  row.data = reply::compose(digest);
  row.next_attempt_at = now;
  db_.queue_reply(row);
  digest_day_ = day;
  log::info("stage=followup outcome=digest_queued overdue=" + std::to_string(overdue.size()));
}

void poller::release_memory() {
  // Between cycles the daemon holds no caches: SQLite's pages go (each connection keeps up to
  // 4 MB), and glibc returns the freed heap of a drained backlog to the system.
  try {
    db_.release_memory();
    for (auto& s : senders_)
      if (s->db) s->db->release_memory();
  } catch (const std::exception& e) {
    log::warning(std::string("stage=cycle outcome=release_failed reason=\"") + e.what() + "\"");
  }
  malloc_trim(0);
}

void poller::start_delivery() {
  if (!delivering_.empty()) return;
  // The global rate limit, shared by every connection: what is over it waits in the outbox.
  const std::int64_t budget = settings_.reply.max_per_minute - db_.sent_since(now_seconds() - 60);
  if (budget <= 0) {
    budget_ = 0;
    note_rate_limited();
    return;
  }
  budget_ = budget;
  const std::size_t shards = senders_.size();
  for (std::size_t k = 0; k < shards; ++k)
    delivering_.push_back(std::async(std::launch::async,
                                     [this, k, shards] { return deliver(*senders_[k], k, shards); }));
}

void poller::finish_delivery(cycle_report& report) {
  if (delivering_.empty()) return;
  for (auto& f : delivering_) {
    try {
      const send_totals t = f.get();
      report.replies_sent += t.sent;
      report.send_failures += t.failures;
    } catch (const std::exception& e) {
      log::error(std::string("stage=send outcome=error reason=\"") + e.what() + "\"");
    }
  }
  delivering_.clear();
  if (budget_ > 0) rate_limited_ = false;  // the round ended with budget to spare
}

void poller::note_rate_limited() {
  if (!rate_limited_.exchange(true))
    log::warning("stage=send outcome=rate_limited reason=\"max_per_minute " +
                 std::to_string(settings_.reply.max_per_minute) +
                 " reached; replies wait in the outbox\"");
}

void poller::deliver_outbox(cycle_report& report) {
  finish_delivery(report);
  start_delivery();
  finish_delivery(report);
}

poller::send_totals poller::deliver(sender& s, std::size_t shard, std::size_t shards) {
  send_totals totals;
  if (!s.db) s.db = std::make_unique<store::store>(settings_.store_path);
  store::store& db = *s.db;
  while (!stop_) {
    auto due = db.due_outbox(now_seconds(), 100, shard, shards);
    if (due.empty()) return totals;
    for (const auto& item : due) {
      if (stop_) return totals;
      if (budget_.fetch_sub(1) <= 0) {
        note_rate_limited();
        return totals;
      }
      const auto started = std::chrono::steady_clock::now();
      auto sent = s.smtp.send(item.envelope_from, item.recipients, item.data);
      if (sent) {
        // The SMTP server took the reply: record it at once. A crash before this commit is the
        // one window where a reply can go out twice (RFC 1047); nothing else runs in between.
        db.mark_sent(item.id, now_seconds());
        if (metrics_)
          metrics_->observe_smtp_send(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        ++totals.sent;
        if (smtp_down_.exchange(false)) log::info("stage=send outcome=smtp_recovered");
        log::info("stage=send message_id=" + item.message_id + " outcome=sent");
        continue;
      }
      ++budget_;  // nothing went out
      if (stop_) return totals;  // aborted for shutdown: not the server's failure, stays queued
      ++totals.failures;
      const auto& err = sent.error();
      if (metrics_) metrics_->count_smtp_failure(err.kind == transport::error_kind::permanent);
      bool permanent = err.kind == transport::error_kind::permanent ||
                       item.attempts + 1 >= settings_.smtp.max_attempts;
      db.mark_send_failed(item.id, err.message, permanent,
                          now_seconds() + retry_delay(settings_.smtp, item.attempts));
      if (permanent) {
        // RFC 5321 §4.2.1: 5yz will not succeed by retrying (nor will the last allowed attempt);
        // a person has to look.
        db.set_thread_status(item.thread_id, store::thread_status::escalated);
        log::error("stage=send message_id=" + item.message_id + " outcome=failed reason=\"" +
                   describe("SMTP", err) + "\"");
        continue;
      }
      if (!smtp_down_.exchange(true))
        log::error("stage=send outcome=smtp_unavailable reason=\"" + describe("SMTP", err) +
                   "\" (replies stay queued)");
      return totals;  // the server is down: the rest waits for the next cycle
    }
  }
  return totals;
}

void poller::flag_finished(std::int64_t validity, cycle_report& report) {
  const std::string& mailbox = imap_.mailbox();
  while (!stop_) {
    auto rows = db_.unflagged(mailbox, validity, 500);
    if (rows.empty()) return;
    // \Answered only when we replied; everything else is at least \Seen (RFC 3501 §2.3.2).
    // One UID STORE per flag set for the whole batch, then one transaction for the ledger.
    static constexpr std::pair<bool, std::string_view> flag_sets[] = {
        {true, "\\Answered \\Seen"}, {false, "\\Seen"}};
    for (const auto& [answered, flags] : flag_sets) {
      std::vector<store::inbound_key> keys;
      std::vector<std::int64_t> uids;
      for (const auto& row : rows)
        if ((row.decision == "auto_reply") == answered) {
          keys.push_back(*row.key);
          uids.push_back(row.key->uid);
        }
      if (uids.empty()) continue;
      auto ok = imap_.add_flags(uids, validity, flags);
      if (!ok) {
        log::warning("stage=flag uids=" + std::to_string(uids.size()) + " reason=\"" +
                     describe("UID STORE", ok.error()) + "\"");
        return;
      }
      store::store::transaction tx(db_);
      for (const auto& key : keys) db_.mark_flagged(key);
      tx.commit();
      report.flagged += keys.size();
    }
  }
}

}  // namespace supportd::daemon
