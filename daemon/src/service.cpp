#include "supportd/daemon/service.hpp"

#include <systemd/sd-daemon.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <csignal>
#include <mutex>

#include "supportd/daemon/checks.hpp"
#include "supportd/daemon/log.hpp"
#include "supportd/daemon/poller.hpp"
#include "supportd/idle/idle_watcher.hpp"
#include "supportd/web/server.hpp"

namespace supportd::daemon {

namespace {

namespace asio = boost::asio;

std::string summary(const cycle_report& r) {
  return "fetched=" + std::to_string(r.fetched) + " processed=" + std::to_string(r.processed) +
         " sent=" + std::to_string(r.replies_sent) + " send_failures=" +
         std::to_string(r.send_failures) + " flagged=" + std::to_string(r.flagged) +
         " quarantined=" + std::to_string(r.quarantined);
}

class service {
 public:
  service(const settings& s, std::shared_ptr<const runtime> rt)
      : settings_(s),
        runtime_(std::move(rt)),
        db_(s.store_path),
        metrics_(std::make_shared<web::metrics>()),
        poller_(s, db_, [this] { return current_runtime(); }, stop_, metrics_),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        timer_(io_),
        idle_(io_.get_executor(), s.imap.endpoint, [this] { wake(); }) {}

  int run_once() {
    cycle_report r = poller_.run_cycle();
    log::info("stage=cycle " + summary(r));
    return r.imap_ok ? 0 : 1;
  }

  int run() {
    do_wait_signal();
    sd_notify(0, "READY=1\nSTATUS=polling");
    log::info("stage=service outcome=started mailbox=" + settings_.imap.endpoint.url);
    // RFC 2177 IDLE wakes the poller the moment mail arrives; polling stays as the fallback
    // for servers without IDLE and for when the watcher's connection is down.
    idle_.on_state_change([](idle::watch_state state, std::string_view reason) {
      log::info(std::string("stage=idle outcome=") + std::string(idle::to_string(state)) +
                (reason.empty() ? "" : " reason=\"" + std::string(reason) + "\""));
    });
    idle_.start();
    start_web();
    start_cycle();
    io_.run();
    worker_.join();
    log::info("stage=service outcome=stopped");
    return 0;
  }

 private:
  std::shared_ptr<const runtime> current_runtime() {
    std::lock_guard lock(runtime_mutex_);
    return runtime_;
  }

  void do_wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      on_signal(signo);
    });
  }

  void on_signal(int signo) {
    if (signo == SIGHUP) {
      reload();
      do_wait_signal();
      return;
    }
    log::info(std::string("stage=service outcome=stopping signal=") +
              (signo == SIGTERM ? "TERM" : "INT"));
    sd_notify(0, "STOPPING=1");
    stop_ = true;  // the worker finishes the message in hand, curl transfers abort
    timer_.cancel();
    idle_.stop();
    if (web_) web_->stop();
    if (!cycle_running_) io_.stop();
  }

  void reload() {
    sd_notify(0, "RELOADING=1");
    auto fresh = load_checked_runtime(settings_);
    if (fresh) {
      for (const auto& w : fresh->warnings)
        log::warning("stage=reload outcome=warning reason=\"" + w + "\"");
      std::lock_guard lock(runtime_mutex_);
      runtime_ = fresh->rt;
      log::info("stage=reload outcome=ok");
    } else {
      for (const auto& e : fresh.error())
        log::error("stage=reload outcome=kept_old_rules reason=\"" + e + "\"");
    }
    sd_notify(0, "READY=1");
  }

  /// The agents' page and /metrics on the same io_context; mail keeps flowing if it fails.
  void start_web() {
    if (!settings_.web.enabled) return;
    web::settings ws;
    ws.address = settings_.web.address;
    ws.port = static_cast<std::uint16_t>(settings_.web.port);
    ws.token_file = settings_.web.token_file;
    ws.from = settings_.reply.from;
    ws.message_id_domain = settings_.reply.message_id_domain;
    ws.session_lifetime = settings_.web.session;
    auto srv = web::server::start(io_.get_executor(), ws, settings_.store_path, metrics_);
    if (!srv) {
      log::error("stage=web outcome=failed reason=\"" + srv.error() + "\"");
      return;
    }
    web_ = std::move(*srv);
    log::info("stage=web outcome=listening address=" + settings_.web.address + ":" +
              std::to_string(web_->port()));
  }

  /// New mail announced by IDLE: poll now, or right after the cycle in hand.
  void wake() {
    if (stop_) return;
    if (cycle_running_) {
      wake_pending_ = true;
      return;
    }
    timer_.cancel();
    start_cycle();
  }

  void start_cycle() {
    cycle_running_ = true;
    wake_pending_ = false;
    asio::post(worker_, [this] {
      cycle_report r = poller_.run_cycle();
      asio::post(io_, [this, r] { on_cycle_done(r); });
    });
  }

  void on_cycle_done(const cycle_report& r) {
    cycle_running_ = false;
    if (r.processed || r.replies_sent || r.send_failures || r.quarantined)
      log::info("stage=cycle " + summary(r));
    // The watchdog is fed only after a real IMAP round trip: a stuck daemon gets restarted.
    if (r.imap_ok) sd_notify(0, "WATCHDOG=1");
    if (stop_) {
      io_.stop();
      return;
    }
    // While IMAP is down the interval doubles up to reconnect_max, so an outage is not a
    // reconnect storm; one success brings it back to poll_interval.
    retry_interval_ = r.imap_ok ? settings_.imap.poll_interval
                                : std::min(std::max(retry_interval_ * 2, settings_.imap.poll_interval),
                                           settings_.imap.reconnect_max);
    if (wake_pending_ && r.imap_ok) {
      start_cycle();
      return;
    }
    timer_.expires_after(retry_interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stop_ && !cycle_running_) start_cycle();
    });
  }

  const settings& settings_;
  std::mutex runtime_mutex_;
  std::shared_ptr<const runtime> runtime_;
  std::atomic<bool> stop_{false};
  store::store db_;
  std::shared_ptr<web::metrics> metrics_;
  poller poller_;
  asio::io_context io_;
  asio::thread_pool worker_{1};
  asio::signal_set signals_;
  asio::steady_timer timer_;
  idle::idle_watcher idle_;
  std::unique_ptr<web::server> web_;  // destroyed before io_ (declared after it)
  bool cycle_running_ = false;
  bool wake_pending_ = false;  // IDLE announced mail while a cycle was running
  std::chrono::seconds retry_interval_{0};
};

}  // namespace

int run_service(const settings& s, std::shared_ptr<const runtime> rt, bool once) {
  service svc(s, std::move(rt));
  return once ? svc.run_once() : svc.run();
}

}  // namespace supportd::daemon
