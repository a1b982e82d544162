#pragma once
// One mailbox's work cycle: fetch new UIDs into the ledger, process pending messages, deliver
// the outbox, flag finished messages. Blocking; runs on the service's worker thread.

#include <atomic>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "supportd/daemon/config.hpp"
#include "supportd/daemon/pipeline.hpp"
#include "supportd/store/store.hpp"
#include "supportd/transport/transport.hpp"
#include "supportd/web/metrics.hpp"

namespace supportd::daemon {

struct cycle_report {
  bool imap_ok = false;      // a full IMAP round trip succeeded (feeds the watchdog)
  std::size_t fetched = 0;   // new UIDs noted
  std::size_t processed = 0;
  std::size_t replies_sent = 0;
  std::size_t send_failures = 0;
  std::size_t flagged = 0;
  std::size_t quarantined = 0;
};

class poller {
 public:
  using runtime_source = std::function<std::shared_ptr<const runtime>()>;

  /// `stop` ends a cycle after the message in hand.
  poller(const settings& s, store::store& db, runtime_source current_runtime,
         const std::atomic<bool>& stop, std::shared_ptr<web::metrics> metrics = nullptr);
  ~poller();

  /// One full cycle; never throws.
  cycle_report run_cycle();

  /// Processing attempts before a message is quarantined.
  static constexpr int max_attempts = 3;

 private:
  struct sender;
  struct send_totals {
    std::size_t sent = 0;
    std::size_t failures = 0;
  };
  /// Sends the due replies of one shard of the outbox over one connection, until none is due,
  /// the rate budget is spent or the server is down. Runs on its own thread.
  send_totals deliver(sender& s, std::size_t shard, std::size_t shards);
  /// Starts every connection on the due outbox in the background; finish_delivery waits for them.
  void start_delivery();
  void finish_delivery(cycle_report& report);
  /// The whole due outbox, blocking.
  void deliver_outbox(cycle_report& report);
  void note_rate_limited();
  void release_memory();
  void flag_finished(std::int64_t uidvalidity, cycle_report& report);
  void process_pending(std::int64_t uidvalidity, cycle_report& report);
  /// Raises the priority of escalated threads past their deadline; queues the daily digest.
  void follow_up(std::int64_t now);

  const settings& settings_;
  store::store& db_;
  runtime_source runtime_;
  const std::atomic<bool>& stop_;
  transport::imap_client imap_;
  pipeline pipeline_;
  std::vector<std::unique_ptr<sender>> senders_;  // [smtp] connections, one thread each
  std::vector<std::future<send_totals>> delivering_;
  std::atomic<std::int64_t> budget_{0};  // sends left under max_per_minute in this delivery
  bool imap_down_ = false;  // one log line per outage, not one per poll
  std::atomic<bool> smtp_down_{false};
  std::atomic<bool> rate_limited_{false};
  std::int64_t digest_day_ = 0;  // the UTC day whose digest was queued
  std::shared_ptr<web::metrics> metrics_;  // for /metrics; may be null
};

}  // namespace supportd::daemon
