#pragma once
// One IMAP IDLE connection (RFC 2177) whose only job is to wake the poller when mail arrives.
// libcurl has no IDLE, so this is a small Boost.Asio client; polling stays the fallback when the
// server lacks IDLE or this connection is down. It never fetches or changes anything: it LOGINs,
// EXAMINEs (read-only) the mailbox from the URL path and IDLEs.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "supportd/transport/transport.hpp"

namespace supportd::idle {

/// Where the watcher is; reported through the state handler and `current_state()`.
enum class watch_state {
  stopped,      // not started, or stop() was called
  connecting,   // connecting, logging in, EXAMINE, waiting for "+ idling"
  watching,     // IDLE is live: new mail is pushed within milliseconds
  retrying,     // the connection failed or dropped; waiting (backoff) to reconnect
  unsupported,  // the server has no IDLE: the watcher gave up, keep polling
  failed,       // our configuration refuses this endpoint (e.g. clear text): gave up
};

/// Short name for logs: "stopped", "connecting", "watching", ...
[[nodiscard]] std::string_view to_string(watch_state state);

/// Timing knobs; the defaults are what a daemon wants, tests shorten them.
struct watch_options {
  /// Re-issue IDLE (DONE, then IDLE) this often: servers may drop an IDLE after 30 minutes
  /// (RFC 2177 section 3).
  std::chrono::milliseconds renew_interval = std::chrono::minutes(25);
  /// First reconnect delay; doubles after each failure up to `backoff_max`.
  std::chrono::milliseconds backoff_initial = std::chrono::seconds(1);
  std::chrono::milliseconds backoff_max = std::chrono::seconds(60);
  /// Bursts of EXISTS within this window wake the poller once more, not once per message;
  /// the first one of a burst wakes it at once.
  std::chrono::milliseconds coalesce_window = std::chrono::milliseconds(100);
};

/// Watches one mailbox with IMAP IDLE and calls `on_new_mail` when it grows.
/// All work runs on the given executor (no threads of its own). Call start(), stop() and the
/// setters from that executor's thread (or before it runs); `current_state()`/`connected()` may
/// be read from any thread. Handlers run on the executor and must not block or throw.
class idle_watcher {
 public:
  /// Called on every state change with a reason for the log (empty when there is none).
  using state_handler = std::function<void(watch_state, std::string_view reason)>;

  /// `ep`: the same IMAP endpoint the poller uses (imap:// or imaps://, mailbox in the path).
  /// `on_new_mail`: wake the poller; also called once when watching resumes after a dropped
  /// connection, since mail may have arrived while the watcher was blind.
  idle_watcher(boost::asio::any_io_executor ex, transport::endpoint ep,
               std::function<void()> on_new_mail);
  idle_watcher(boost::asio::any_io_executor ex, transport::endpoint ep,
               std::function<void()> on_new_mail, watch_options options);
  /// Stops (closes the connection, cancels timers); pending handlers finish harmlessly.
  ~idle_watcher();
  idle_watcher(const idle_watcher&) = delete;
  idle_watcher& operator=(const idle_watcher&) = delete;

  /// Sets the state-change handler (before start()).
  void on_state_change(state_handler handler);
  /// Connects and keeps reconnecting until stop(), `unsupported` or `failed`. No-op if running.
  void start();
  /// Closes the connection and cancels every timer at once; no callback runs afterwards.
  void stop();

  /// The state now (thread-safe).
  [[nodiscard]] watch_state current_state() const;
  /// True while IDLE is live (thread-safe): the poller may then poll rarely.
  [[nodiscard]] bool connected() const;
  /// Why the last connection failed (empty if none); never contains the password.
  [[nodiscard]] std::string last_error() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace supportd::idle
