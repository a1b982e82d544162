#pragma once
// The client side of one IDLE connection as a pure state machine: greeting, CAPABILITY,
// STARTTLS, LOGIN, EXAMINE, IDLE, DONE (RFC 3501, RFC 2177). Responses in, actions out;
// the Asio watcher only moves bytes and timers, so every protocol path is tested without a socket.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "detail/imap_parser.hpp"

namespace supportd::idle::detail {

/// What one connection needs to know.
struct session_settings {
  std::string user;
  std::string password;
  std::string mailbox = "INBOX";
  bool starttls = false;  // upgrade the clear-text connection before LOGIN
};

/// Why a connection ended; decides whether the watcher retries.
enum class failure_kind {
  transient,    // BYE, server error, lost connection: reconnect with backoff
  auth,         // LOGIN refused: retried with backoff (credentials may be fixed by a reload)
  protocol,     // the server said something impossible: reconnect with backoff
  config,       // our rules refuse (no STARTTLS offered, LOGIN disabled, bad credentials text)
  unsupported,  // no IDLE capability: give up, the poller keeps polling
};

/// One thing the I/O layer must do, in order.
struct action {
  enum class kind {
    send,       // write `text` (a complete command line with CRLF)
    start_tls,  // run the TLS handshake now, then call on_tls_ready()
    idling,     // the server confirmed IDLE: the watch is live
    new_mail,   // the mailbox grew: wake the poller
    fail,       // drop the connection (`failure`, `text` says why)
  };
  kind what = kind::send;
  std::string text;
  failure_kind failure = failure_kind::transient;
};

/// One connection's protocol state. Commands carry tags "w1", "w2", ...
class idle_session {
 public:
  enum class phase {
    greeting,        // waiting for "* OK" / "* PREAUTH"
    capability,      // CAPABILITY sent
    starttls,        // STARTTLS sent
    tls_handshake,   // the I/O layer is negotiating TLS
    login,           // LOGIN sent
    examine,         // EXAMINE sent (read-only: never changes flags, RFC 3501 6.3.2)
    idle_requested,  // IDLE sent, waiting for "+"
    idling,          // the server pushes EXISTS/EXPUNGE (RFC 2177 section 3)
    done_sent,       // DONE sent, waiting for the IDLE command's tagged OK
    failed,
  };

  explicit idle_session(session_settings settings);

  /// Feeds one server response.
  [[nodiscard]] std::vector<action> on_response(const response& r);
  /// The STARTTLS handshake finished: capabilities are asked again (RFC 3501 6.2.1).
  [[nodiscard]] std::vector<action> on_tls_ready();
  /// Ends the current IDLE with DONE so a fresh one starts (servers may drop an IDLE after
  /// 30 minutes, RFC 2177 section 3). Nothing happens unless idling.
  [[nodiscard]] std::vector<action> renew_idle();

  [[nodiscard]] phase current_phase() const { return phase_; }
  /// True while a command's response is due (the I/O layer runs a timeout), false while idling.
  [[nodiscard]] bool awaiting_response() const;
  /// The mailbox size the server last reported (EXISTS minus EXPUNGEs since).
  [[nodiscard]] std::optional<std::uint64_t> exists() const { return exists_; }

 private:
  std::vector<action> after_capabilities(std::vector<action> out);
  std::vector<action> after_login(std::vector<action> out);
  std::vector<action> fail(failure_kind kind, std::string why);
  void send(std::vector<action>& out, const std::string& command, phase next);
  bool has_capability(const std::string& name) const;

  session_settings settings_;
  phase phase_ = phase::greeting;
  std::optional<std::vector<std::string>> capabilities_;
  bool tls_done_ = false;
  bool authenticated_ = false;
  std::string pending_tag_;  // the tag whose tagged response is due
  std::uint64_t next_tag_ = 1;
  std::optional<std::uint64_t> exists_;
};

}  // namespace supportd::idle::detail
