#include "supportd/idle/idle_watcher.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "detail/idle_session.hpp"
#include "detail/imap_parser.hpp"
#include "detail/imap_target.hpp"

namespace supportd::idle {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using detail::action;
using detail::failure_kind;

std::string_view to_string(watch_state state) {
  switch (state) {
    case watch_state::stopped:
      return "stopped";
    case watch_state::connecting:
      return "connecting";
    case watch_state::watching:
      return "watching";
    case watch_state::retrying:
      return "retrying";
    case watch_state::unsupported:
      return "unsupported";
    case watch_state::failed:
      return "failed";
  }
  return "unknown";
}

namespace {

// One connection attempt. Handlers hold it by shared_ptr and compare it with the current one,
// so completions of an abandoned connection are recognised and ignored.
struct connection {
  connection(const asio::any_io_executor& ex, ssl::context& ctx, detail::session_settings settings)
      : stream(ex, ctx), session(std::move(settings)) {}

  ssl::stream<tcp::socket> stream;  // used as plain TCP (next_layer) until TLS is up
  bool tls = false;
  detail::response_parser parser;
  detail::idle_session session;
  std::array<char, 4096> buffer{};
  std::deque<std::string> writes;
  bool writing = false;
};

// Dead peers are noticed while idling (no traffic for up to 25 min) by TCP keepalive.
void enable_keepalive(tcp::socket& socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::socket::keep_alive(true), ignored);
  const int fd = socket.native_handle();
  const int idle_seconds = 60;
  const int interval_seconds = 15;
  const int probes = 4;
  const auto size = static_cast<socklen_t>(sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_seconds, size);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_seconds, size);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, size);
}

std::string seconds_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

}  // namespace

struct idle_watcher::impl : std::enable_shared_from_this<impl> {
  impl(asio::any_io_executor ex, transport::endpoint ep, std::function<void()> on_new_mail,
       watch_options options)
      : ex_(std::move(ex)),
        ep_(std::move(ep)),
        on_new_mail_(std::move(on_new_mail)),
        options_(options),
        resolver_(ex_),
        deadline_(ex_),
        renew_(ex_),
        retry_(ex_),
        coalesce_(ex_) {}

  asio::any_io_executor ex_;
  transport::endpoint ep_;
  std::function<void()> on_new_mail_;
  state_handler on_state_;
  watch_options options_;
  detail::imap_target target_;
  std::optional<ssl::context> tls_context_;

  tcp::resolver resolver_;
  asio::steady_timer deadline_;  // connect/handshake/command response timeout
  asio::steady_timer renew_;     // DONE + IDLE every renew_interval
  asio::steady_timer retry_;     // backoff before reconnecting
  asio::steady_timer coalesce_;  // merges bursts of new-mail wakes

  std::shared_ptr<connection> conn_;
  bool running_ = false;
  bool blind_since_failure_ = false;  // a connection dropped: wake the poller once watching again
  std::chrono::milliseconds backoff_{};
  bool coalescing_ = false;
  bool pending_mail_ = false;
  std::uint64_t coalesce_epoch_ = 0;

  std::atomic<watch_state> state_{watch_state::stopped};
  mutable std::mutex error_mutex_;
  std::string last_error_;

  [[nodiscard]] bool current(const std::shared_ptr<connection>& conn) const {
    return running_ && conn && conn == conn_;
  }

  void set_state(watch_state s, std::string_view reason) {
    if (state_.load() == s && s != watch_state::retrying) return;
    state_.store(s);
    if (on_state_) on_state_(s, reason);
  }

  void set_error(std::string message) {
    const std::lock_guard lock(error_mutex_);
    last_error_ = std::move(message);
  }

  // Gives up for good: our rules or the server's missing IDLE make retrying pointless.
  void give_up(watch_state s, const std::string& why) {
    set_error(why);
    running_ = false;
    close_connection();
    set_state(s, why);
  }

  void start() {
    if (running_) return;
    running_ = true;
    blind_since_failure_ = false;
    backoff_ = options_.backoff_initial;
    if (auto allowed = transport::check_endpoint(ep_); !allowed) {
      give_up(watch_state::failed, allowed.error().message);
      return;
    }
    auto target = detail::make_target(ep_);
    if (!target) {
      give_up(watch_state::failed, target.error());
      return;
    }
    target_ = std::move(*target);
    if (tls_context_) return connect();  // restarted: an abandoned stream may still use it
    try {
      tls_context_.emplace(ssl::context::tls_client);
      SSL_CTX_set_min_proto_version(tls_context_->native_handle(), TLS1_2_VERSION);
      if (target_.tls == detail::security::plain) {
        // No handshake can happen on this target: the stream needs a context, not the system
        // CA bundle (~0.9 MB of heap for as long as the daemon runs).
      } else if (ep_.insecure_skip_verify) {
        tls_context_->set_verify_mode(ssl::verify_none);
      } else {
        tls_context_->set_verify_mode(ssl::verify_peer);
        if (!ep_.ca_file.empty()) {
          tls_context_->load_verify_file(ep_.ca_file);
        } else {
          tls_context_->set_default_verify_paths();
        }
      }
    } catch (const boost::system::system_error& e) {
      give_up(watch_state::failed, std::string("TLS setup failed: ") + e.what());
      return;
    }
    connect();
  }

  void stop() {
    running_ = false;
    close_connection();
    retry_.cancel();
    coalesce_.cancel();
    ++coalesce_epoch_;
    coalescing_ = false;
    pending_mail_ = false;
    state_.store(watch_state::stopped);  // no handler call: stop() may run from a destructor
  }

  void close_connection() {
    resolver_.cancel();
    deadline_.cancel();
    renew_.cancel();
    if (conn_) {
      boost::system::error_code ignored;
      conn_->stream.lowest_layer().close(ignored);  // no TLS close_notify: stop must be prompt
      conn_.reset();
    }
  }

  void connect() {
    set_state(watch_state::connecting, target_.host + ":" + target_.port);
    auto conn = std::make_shared<connection>(
        ex_, *tls_context_,
        detail::session_settings{.user = ep_.user,
                                 .password = ep_.password,
                                 .mailbox = target_.mailbox,
                                 .starttls = target_.tls == detail::security::starttls});
    conn_ = conn;
    arm_deadline(conn, ep_.connect_timeout);
    resolver_.async_resolve(
        target_.host, target_.port,
        [self = shared_from_this(), conn](const boost::system::error_code& ec,
                                          const tcp::resolver::results_type& results) {
          if (!self->current(conn)) return;
          if (ec)
            return self->fail(failure_kind::transient,
                              "cannot resolve " + self->target_.host + ": " + ec.message());
          asio::async_connect(
              conn->stream.next_layer(), results,
              [self, conn](const boost::system::error_code& cec, const tcp::endpoint&) {
                self->on_connected(conn, cec);
              });
        });
  }

  void on_connected(const std::shared_ptr<connection>& conn, const boost::system::error_code& ec) {
    if (!current(conn)) return;
    if (ec)
      return fail(failure_kind::transient,
                  "cannot connect to " + target_.host + ":" + target_.port + ": " + ec.message());
    enable_keepalive(conn->stream.next_layer());
    if (target_.tls == detail::security::implicit) {
      handshake(conn);  // imaps://: TLS before the greeting (RFC 8314)
    } else {
      read(conn);
    }
  }

  void handshake(const std::shared_ptr<connection>& conn) {
    arm_deadline(conn, ep_.connect_timeout);
    if (!ep_.insecure_skip_verify) {
      boost::system::error_code ec;
      conn->stream.set_verify_callback(ssl::host_name_verification(target_.host), ec);
      if (ec) return fail(failure_kind::config, "TLS verification setup failed: " + ec.message());
    }
    boost::system::error_code not_ip;
    asio::ip::make_address(target_.host, not_ip);
    // SNI carries host names only (RFC 6066 section 3).
    if (not_ip) {
      // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
      SSL_ctrl(conn->stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
               TLSEXT_NAMETYPE_host_name, const_cast<char*>(target_.host.c_str()));
    }
    conn->stream.async_handshake(
        ssl::stream_base::client,
        [self = shared_from_this(), conn](const boost::system::error_code& ec) {
          if (!self->current(conn)) return;
          if (ec)
            return self->fail(failure_kind::transient, "TLS handshake failed: " + ec.message());
          conn->tls = true;
          if (conn->session.current_phase() == detail::idle_session::phase::tls_handshake) {
            if (!self->run(conn, conn->session.on_tls_ready())) return;
          } else {
            self->arm_deadline(conn, self->ep_.connect_timeout);  // for the greeting
          }
          self->read(conn);
        });
  }

  void read(const std::shared_ptr<connection>& conn) {
    auto on_read = [self = shared_from_this(), conn](const boost::system::error_code& ec,
                                                     std::size_t n) { self->on_read(conn, ec, n); };
    if (conn->tls) {
      conn->stream.async_read_some(asio::buffer(conn->buffer), std::move(on_read));
    } else {
      conn->stream.next_layer().async_read_some(asio::buffer(conn->buffer), std::move(on_read));
    }
  }

  void on_read(const std::shared_ptr<connection>& conn, const boost::system::error_code& ec,
               std::size_t n) {
    if (!current(conn)) return;
    if (ec) {
      const bool closed = ec == asio::error::eof || ec == ssl::error::stream_truncated;
      return fail(failure_kind::transient, closed ? std::string("the server closed the connection")
                                                  : "read failed: " + ec.message());
    }
    conn->parser.feed(std::string_view(conn->buffer.data(), n));
    for (;;) {
      auto next = conn->parser.next();
      if (!next)
        return fail(failure_kind::protocol, "bad server response: " + next.error().message);
      if (!*next) break;
      if (!run(conn, conn->session.on_response(**next))) return;
    }
    read(conn);
  }

  // Carries out the session's actions; false when reading must not continue (connection gone,
  // or a STARTTLS handshake took over the stream).
  bool run(const std::shared_ptr<connection>& conn, const std::vector<action>& actions) {
    for (const auto& a : actions) {
      if (!current(conn)) return false;
      switch (a.what) {
        case action::kind::send:
          write(conn, a.text);
          arm_deadline(conn, ep_.timeout);
          break;
        case action::kind::start_tls:
          // Bytes after the STARTTLS OK would be clear text smuggled into the TLS session.
          if (conn->parser.pending_bytes() != 0) {
            fail(failure_kind::protocol, "data after the STARTTLS response");
            return false;
          }
          handshake(conn);
          return false;
        case action::kind::idling:
          deadline_.cancel();
          backoff_ = options_.backoff_initial;
          arm_renew(conn);
          set_state(watch_state::watching, "IDLE on " + target_.mailbox);
          if (blind_since_failure_ && current(conn)) {
            blind_since_failure_ = false;
            notify_new_mail();
          }
          break;
        case action::kind::new_mail:
          notify_new_mail();
          break;
        case action::kind::fail:
          fail(a.failure, a.text);
          return false;
      }
    }
    return current(conn);
  }

  void write(const std::shared_ptr<connection>& conn, std::string text) {
    conn->writes.push_back(std::move(text));
    if (!conn->writing) write_next(conn);
  }

  void write_next(const std::shared_ptr<connection>& conn) {
    if (conn->writes.empty()) {
      conn->writing = false;
      return;
    }
    conn->writing = true;
    auto on_written = [self = shared_from_this(), conn](const boost::system::error_code& ec,
                                                        std::size_t) {
      if (!self->current(conn)) return;
      if (ec) return self->fail(failure_kind::transient, "write failed: " + ec.message());
      conn->writes.pop_front();
      self->write_next(conn);
    };
    if (conn->tls) {
      asio::async_write(conn->stream, asio::buffer(conn->writes.front()), std::move(on_written));
    } else {
      asio::async_write(conn->stream.next_layer(), asio::buffer(conn->writes.front()),
                        std::move(on_written));
    }
  }

  void arm_deadline(const std::shared_ptr<connection>& conn, std::chrono::seconds limit) {
    deadline_.expires_after(limit);
    deadline_.async_wait(
        [self = shared_from_this(), conn, limit](const boost::system::error_code& ec) {
          // A wait cancelled by re-arming may already be queued with success: check the expiry.
          if (ec || !self->current(conn) ||
              self->deadline_.expiry() > asio::steady_timer::clock_type::now())
            return;
          self->fail(failure_kind::transient,
                     "no response from the server within " + std::to_string(limit.count()) + " s");
        });
  }

  void arm_renew(const std::shared_ptr<connection>& conn) {
    renew_.expires_after(options_.renew_interval);
    renew_.async_wait([self = shared_from_this(), conn](const boost::system::error_code& ec) {
      if (ec || !self->current(conn)) return;
      if (self->renew_.expiry() > asio::steady_timer::clock_type::now()) return;
      self->run(conn, conn->session.renew_idle());
    });
  }

  // Leading edge at once, then at most one more call per window while a burst lasts.
  void notify_new_mail() {
    if (!running_) return;
    if (coalescing_) {
      pending_mail_ = true;
      return;
    }
    coalescing_ = true;
    coalesce_.expires_after(options_.coalesce_window);
    coalesce_.async_wait(
        [self = shared_from_this(), epoch = coalesce_epoch_](const boost::system::error_code&) {
          if (epoch != self->coalesce_epoch_ || !self->running_) return;
          self->coalescing_ = false;
          if (std::exchange(self->pending_mail_, false)) self->notify_new_mail();
        });
    if (on_new_mail_) on_new_mail_();
  }

  void fail(failure_kind kind, const std::string& why) {
    if (kind == failure_kind::unsupported) return give_up(watch_state::unsupported, why);
    if (kind == failure_kind::config) return give_up(watch_state::failed, why);
    set_error(why);
    close_connection();
    blind_since_failure_ = true;
    const auto delay = backoff_;
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
    set_state(watch_state::retrying, why + "; reconnecting in " + seconds_text(delay));
    if (!running_) return;  // the state handler called stop()
    retry_.expires_after(delay);
    retry_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || !self->running_ || self->conn_) return;
      self->connect();
    });
  }
};

idle_watcher::idle_watcher(asio::any_io_executor ex, transport::endpoint ep,
                           std::function<void()> on_new_mail)
    : idle_watcher(std::move(ex), std::move(ep), std::move(on_new_mail), watch_options{}) {}

idle_watcher::idle_watcher(asio::any_io_executor ex, transport::endpoint ep,
                           std::function<void()> on_new_mail, watch_options options)
    : impl_(std::make_shared<impl>(std::move(ex), std::move(ep), std::move(on_new_mail), options)) {
}

idle_watcher::~idle_watcher() { impl_->stop(); }

void idle_watcher::on_state_change(state_handler handler) { impl_->on_state_ = std::move(handler); }

void idle_watcher::start() { impl_->start(); }

void idle_watcher::stop() { impl_->stop(); }

watch_state idle_watcher::current_state() const { return impl_->state_.load(); }

bool idle_watcher::connected() const { return impl_->state_.load() == watch_state::watching; }

std::string idle_watcher::last_error() const {
  const std::lock_guard lock(impl_->error_mutex_);
  return impl_->last_error_;
}

}  // namespace supportd::idle
