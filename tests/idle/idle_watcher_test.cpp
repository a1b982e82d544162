#include "supportd/idle/idle_watcher.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/mail_servers.hpp"

namespace supportd::idle {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// What the watcher reported, written on the io thread and awaited on the test thread.
class recorder {
 public:
  void wake() {
    const std::lock_guard lock(mutex_);
    wakes_.push_back(steady::now());
    changed_.notify_all();
  }
  void state(watch_state s, std::string_view reason) {
    const std::lock_guard lock(mutex_);
    states_.emplace_back(s, std::string(reason));
    changed_.notify_all();
  }
  // Waits until `pred(wakes, states)` holds; false on timeout.
  template <typename Pred>
  bool wait(std::chrono::milliseconds timeout, Pred pred) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(wakes_, states_); });
  }
  std::size_t wake_count() {
    const std::lock_guard lock(mutex_);
    return wakes_.size();
  }
  steady::time_point wake_at(std::size_t i) {
    const std::lock_guard lock(mutex_);
    return wakes_.at(i);
  }
  std::size_t state_count() {
    const std::lock_guard lock(mutex_);
    return states_.size();
  }
  // Waits for state `s` reported at or after index `from`; returns its reason.
  std::optional<std::string> wait_state(watch_state s, std::chrono::milliseconds timeout,
                                        std::size_t from = 0) {
    std::optional<std::string> reason;
    wait(timeout, [&](const auto&, const auto& states) {
      for (std::size_t i = from; i < states.size(); ++i) {
        if (states[i].first == s) {
          reason = states[i].second;
          return true;
        }
      }
      return false;
    });
    return reason;
  }
  std::string history() {
    const std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& [s, reason] : states_) out += std::string(to_string(s)) + "(" + reason + ") ";
    return out;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<steady::time_point> wakes_;
  std::vector<std::pair<watch_state, std::string>> states_;
};

// A watcher on an io_context run by one thread, as the daemon's service would run it.
class watch_fixture {
 public:
  explicit watch_fixture(transport::endpoint ep, watch_options options = {})
      : guard_(asio::make_work_guard(ioc_)),
        watcher_(
            ioc_.get_executor(), std::move(ep), [this] { rec.wake(); }, options) {
    watcher_.on_state_change(
        [this](watch_state s, std::string_view reason) { rec.state(s, reason); });
    thread_ = std::thread([this] { ioc_.run(); });
    asio::post(ioc_, [this] { watcher_.start(); });
  }
  ~watch_fixture() { stop(); }
  watch_fixture(const watch_fixture&) = delete;
  watch_fixture& operator=(const watch_fixture&) = delete;

  // Stops the watcher on its executor, then lets the io_context run dry: the thread ends only
  // when no operation or timer of the watcher is left. Returns how long stop() itself took.
  std::chrono::microseconds stop() {
    if (!thread_.joinable()) return {};
    std::promise<std::chrono::microseconds> took;
    asio::post(ioc_, [&] {
      const auto t0 = steady::now();
      watcher_.stop();
      took.set_value(std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - t0));
    });
    const auto result = took.get_future().get();
    guard_.reset();
    thread_.join();
    return result;
  }

  idle_watcher& watcher() { return watcher_; }
  recorder rec;

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  idle_watcher watcher_;
  std::thread thread_;
};

// A minimal blocking IMAP client that APPENDs, so the test knows the instant the message's
// bytes leave for the server (the harness's append script would add Python start-up time).
class appender {
 public:
  explicit appender(int port) : socket_(ioc_) {
    socket_.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    read_line();  // greeting
    const auto login = command("LOGIN \"" + std::string(test::mail_servers::user) + "\" \"" +
                               std::string(test::mail_servers::password) + "\"");
    if (login.find(" OK") == std::string::npos) throw std::runtime_error("LOGIN failed: " + login);
  }

  // APPENDs one message; returns the time just before its bytes were written.
  steady::time_point append(const std::string& message) {
    const std::string tag = next_tag();
    write(tag + " APPEND INBOX {" + std::to_string(message.size()) + "}\r\n");
    for (std::string line = read_line(); !line.starts_with("+"); line = read_line()) {
      if (line.starts_with(tag)) throw std::runtime_error("APPEND refused: " + line);
    }
    const auto sent = steady::now();
    write(message + "\r\n");
    for (std::string line = read_line();; line = read_line()) {
      if (line.starts_with(tag + " ")) {
        if (line.find(" OK") == std::string::npos)
          throw std::runtime_error("APPEND failed: " + line);
        return sent;
      }
    }
  }

 private:
  std::string next_tag() { return "a" + std::to_string(++tag_); }
  void write(const std::string& text) { asio::write(socket_, asio::buffer(text)); }
  std::string read_line() {
    asio::read_until(socket_, buffer_, "\r\n");
    std::istream in(&buffer_);
    std::string line;
    std::getline(in, line);
    if (line.ends_with('\r')) line.pop_back();
    return line;
  }
  std::string command(const std::string& text) {
    const std::string tag = next_tag();
    write(tag + " " + text + "\r\n");
    for (std::string line = read_line();; line = read_line()) {
      if (line.starts_with(tag + " ")) return line;
    }
  }

  asio::io_context ioc_;
  tcp::socket socket_;
  asio::streambuf buffer_;
  int tag_ = 0;
};

// The test message with CRLF line ends, as IMAP carries it.
std::string test_message() {
  std::ifstream in(std::string(SUPPORTD_TEST_DATA) + "/idle/new_mail.eml", std::ios::binary);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::string out;
  for (const char c : text) {
    if (c == '\n' && (out.empty() || out.back() != '\r')) out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

transport::endpoint endpoint_for(const std::string& url) {
  transport::endpoint ep;
  ep.url = url;
  ep.user = std::string(test::mail_servers::user);
  ep.password = std::string(test::mail_servers::password);
  ep.connect_timeout = 5s;
  ep.timeout = 10s;
  return ep;
}

watch_options fast_retry() {
  watch_options o;
  o.backoff_initial = 100ms;
  o.backoff_max = 400ms;
  return o;
}

// APPENDs `count` messages one at a time, each after the previous one's wake; returns the
// APPEND-to-callback latencies in milliseconds, sorted.
std::vector<double> measure(watch_fixture& f, appender& client, int count) {
  const std::string message = test_message();
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const std::size_t before = f.rec.wake_count();
    const auto sent = client.append(message);
    if (!f.rec.wait(5s, [&](const auto& wakes, const auto&) { return wakes.size() > before; })) {
      ADD_FAILURE() << "no wake for message " << i << "; states: " << f.rec.history();
      break;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(f.rec.wake_at(before) - sent).count());
  }
  std::ranges::sort(ms);
  return ms;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank =
      static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

void report(const char* what, const std::vector<double>& ms) {
  std::cout << what << ": " << ms.size() << " messages, APPEND->callback p50 " << percentile(ms, 50)
            << " ms, p99 " << percentile(ms, 99) << " ms, max " << (ms.empty() ? 0 : ms.back())
            << " ms\n";
}

TEST(idle_watcher, plain_append_wakes_within_one_second) {
  test::mail_servers servers;
  watch_fixture f(endpoint_for(servers.imap_url()));
  ASSERT_TRUE(f.rec.wait_state(watch_state::watching, 10s)) << f.rec.history();
  EXPECT_TRUE(f.watcher().connected());
  EXPECT_EQ(f.rec.wake_count(), 0U);  // the first connection does not wake the poller
  appender client(servers.imap_port());
  const auto ms = measure(f, client, 60);  // ~0.5 s each: Dovecot delays notifications
  report("imap://", ms);
  ASSERT_EQ(ms.size(), 60U);
  EXPECT_LT(percentile(ms, 99), 1000.0);
  EXPECT_LT(ms.back(), 1000.0);
}

TEST(idle_watcher, imaps_append_wakes_within_one_second) {
  test::mail_servers servers;
  if (servers.imaps_port() == 0) GTEST_SKIP() << "the harness has no IMAPS listener (no openssl)";
  auto ep = endpoint_for(servers.imaps_url());
  ep.insecure_skip_verify = true;  // the harness certificate is self-signed
  watch_fixture f(ep);
  ASSERT_TRUE(f.rec.wait_state(watch_state::watching, 10s)) << f.rec.history();
  appender client(servers.imap_port());
  const auto ms = measure(f, client, 20);
  report("imaps://", ms);
  ASSERT_EQ(ms.size(), 20U);
  EXPECT_LT(ms.back(), 1000.0);
}

TEST(idle_watcher, imaps_verifies_the_certificate) {
  test::mail_servers servers;
  if (servers.imaps_port() == 0) GTEST_SKIP() << "the harness has no IMAPS listener (no openssl)";
  watch_fixture f(endpoint_for(servers.imaps_url()), fast_retry());  // self-signed: must fail
  const auto reason = f.rec.wait_state(watch_state::retrying, 10s);
  ASSERT_TRUE(reason) << f.rec.history();
  EXPECT_NE(reason->find("TLS handshake failed"), std::string::npos) << *reason;
  EXPECT_FALSE(f.watcher().connected());
}

TEST(idle_watcher, reconnects_after_the_server_restarts) {
  test::mail_servers servers;
  watch_fixture f(endpoint_for(servers.imap_url()), fast_retry());
  ASSERT_TRUE(f.rec.wait_state(watch_state::watching, 10s)) << f.rec.history();

  servers.stop_imap();
  const std::size_t mark = f.rec.state_count();
  const auto reason = f.rec.wait_state(watch_state::retrying, 10s, mark);
  ASSERT_TRUE(reason) << f.rec.history();
  EXPECT_FALSE(f.watcher().connected());
  EXPECT_FALSE(f.watcher().last_error().empty());

  const std::size_t wakes_before = f.rec.wake_count();
  servers.start_imap();
  ASSERT_TRUE(f.rec.wait_state(watch_state::watching, 10s, mark)) << f.rec.history();
  // Mail may have arrived while blind: the poller is woken once on reconnecting.
  EXPECT_TRUE(
      f.rec.wait(2s, [&](const auto& wakes, const auto&) { return wakes.size() > wakes_before; }));

  appender client(servers.imap_port());
  const auto ms = measure(f, client, 5);
  ASSERT_EQ(ms.size(), 5U);
  EXPECT_LT(ms.back(), 1000.0);
}

TEST(idle_watcher, stop_is_prompt_and_leaves_nothing_running) {
  test::mail_servers servers;
  auto f = std::make_unique<watch_fixture>(endpoint_for(servers.imap_url()));
  ASSERT_TRUE(f->rec.wait_state(watch_state::watching, 10s)) << f->rec.history();
  const auto t0 = steady::now();
  const auto stop_took = f->stop();  // returns only once the io_context has run dry
  const auto total = steady::now() - t0;
  EXPECT_LT(stop_took, 50ms);
  EXPECT_LT(total, 1s);
  EXPECT_EQ(f->watcher().current_state(), watch_state::stopped);

  const std::size_t wakes = f->rec.wake_count();
  appender client(servers.imap_port());
  client.append(test_message());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(f->rec.wake_count(), wakes);
}

TEST(idle_watcher, stop_while_waiting_to_reconnect) {
  test::mail_servers servers;
  watch_options slow;
  slow.backoff_initial = 30s;  // the retry timer would hold the io_context for 30 s
  watch_fixture f(endpoint_for(servers.imap_url()), slow);
  ASSERT_TRUE(f.rec.wait_state(watch_state::watching, 10s)) << f.rec.history();
  servers.stop_imap();
  ASSERT_TRUE(f.rec.wait_state(watch_state::retrying, 10s)) << f.rec.history();
  const auto t0 = steady::now();
  f.stop();
  EXPECT_LT(steady::now() - t0, 1s);
}

TEST(idle_watcher, renewed_idle_keeps_watching) {
  test::mail_servers servers;
  watch_options o;
  o.renew_interval = 150ms;  // DONE + IDLE several times during the test
  watch_fixture f(endpoint_for(servers.imap_url()), o);
  ASSERT_TRUE(f.rec.wait_state(watch_state::watching, 10s)) << f.rec.history();
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(f.watcher().connected()) << f.rec.history();
  appender client(servers.imap_port());
  const auto ms = measure(f, client, 10);
  ASSERT_EQ(ms.size(), 10U);
  EXPECT_LT(ms.back(), 1000.0);
  EXPECT_EQ(f.rec.state_count(), 2U) << f.rec.history();  // connecting, watching: no drops
}

TEST(idle_watcher, wrong_password_retries_and_never_reports_it) {
  test::mail_servers servers;
  auto ep = endpoint_for(servers.imap_url());
  ep.password = "wrong-Secret-Value";
  watch_fixture f(ep, fast_retry());
  const auto reason = f.rec.wait_state(watch_state::retrying, 10s);
  ASSERT_TRUE(reason) << f.rec.history();
  EXPECT_NE(reason->find("LOGIN refused"), std::string::npos) << *reason;
  EXPECT_EQ(f.rec.history().find("wrong-Secret-Value"), std::string::npos);
  EXPECT_EQ(f.watcher().last_error().find("wrong-Secret-Value"), std::string::npos);
}

TEST(idle_watcher, missing_mailbox_retries) {
  test::mail_servers servers;
  watch_fixture f(endpoint_for(servers.imap_url("NoSuchBox")), fast_retry());
  const auto reason = f.rec.wait_state(watch_state::retrying, 10s);
  ASSERT_TRUE(reason) << f.rec.history();
  EXPECT_NE(reason->find("EXAMINE refused"), std::string::npos) << *reason;
}

TEST(idle_watcher, refuses_clear_text_to_a_remote_host_without_connecting) {
  auto ep = endpoint_for("imap://mail.example.com/INBOX");
  ep.starttls = false;
  watch_fixture f(ep);
  const auto reason = f.rec.wait_state(watch_state::failed, 2s);
  ASSERT_TRUE(reason) << f.rec.history();
  EXPECT_NE(reason->find("clear text"), std::string::npos) << *reason;
  EXPECT_EQ(f.rec.state_count(), 1U);  // never "connecting"
}

TEST(idle_watcher, rejects_a_non_imap_url) {
  watch_fixture f(endpoint_for("smtp://127.0.0.1:25"));
  ASSERT_TRUE(f.rec.wait_state(watch_state::failed, 2s)) << f.rec.history();
}

// One scripted IMAP connection on loopback, served by a blocking thread.
class fake_server {
 public:
  fake_server()
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), socket_(io_) {}
  // The watcher is gone by now (declared later), so the script's reads end; shutting the
  // listener down also ends a script still waiting in accept() after a failed test.
  ~fake_server() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }
  fake_server(const fake_server&) = delete;
  fake_server& operator=(const fake_server&) = delete;

  [[nodiscard]] std::string url() const {
    return "imap://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/INBOX";
  }
  // Runs `script` on the accepted connection in a thread.
  template <typename Script>
  void serve(Script script) {
    thread_ = std::thread([this, script] {
      try {
        acceptor_.accept(socket_);
        script(*this);
        boost::system::error_code ec;
        asio::read(socket_, buffer_, ec);  // until the watcher hangs up
      } catch (const std::exception& e) {
        ADD_FAILURE() << "fake server: " << e.what();
      }
    });
  }
  void send(const std::string& text) { asio::write(socket_, asio::buffer(text)); }
  std::string line() {
    asio::read_until(socket_, buffer_, "\r\n");
    std::istream in(&buffer_);
    std::string text;
    std::getline(in, text);
    if (text.ends_with('\r')) text.pop_back();
    return text;
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket socket_;
  asio::streambuf buffer_;
  std::thread thread_;
};

// Exactly the RFC 2177 renewal (DONE, tagged OK, IDLE again) and burst coalescing.
TEST(idle_watcher, renews_with_done_and_coalesces_bursts) {
  fake_server server;
  std::promise<std::vector<std::string>> client_lines;
  server.serve([&](fake_server& s) {
    std::vector<std::string> seen;
    s.send("* OK [CAPABILITY IMAP4rev1 IDLE] fake\r\n");
    seen.push_back(s.line());  // LOGIN
    s.send("w1 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n");
    seen.push_back(s.line());  // EXAMINE
    s.send("* 3 EXISTS\r\n* 0 RECENT\r\nw2 OK [READ-ONLY] done\r\n");
    seen.push_back(s.line());  // IDLE
    s.send("+ idling\r\n");
    seen.push_back(s.line());                          // DONE after renew_interval
    s.send("* 4 EXISTS\r\nw3 OK Idle completed\r\n");  // new mail between DONE and OK
    seen.push_back(s.line());                          // IDLE again
    s.send("+ idling\r\n");
    std::this_thread::sleep_for(300ms);
    for (int n = 5; n <= 9; ++n) {  // a burst: one EXISTS every 10 ms
      s.send("* " + std::to_string(n) + " EXISTS\r\n");
      std::this_thread::sleep_for(10ms);
    }
    client_lines.set_value(seen);
  });
  watch_options o;
  o.renew_interval = 200ms;
  o.coalesce_window = 100ms;
  watch_fixture f(endpoint_for(server.url()), o);
  auto lines_future = client_lines.get_future();
  ASSERT_EQ(lines_future.wait_for(10s), std::future_status::ready) << f.rec.history();
  const auto lines = lines_future.get();
  ASSERT_EQ(lines.size(), 5U);
  EXPECT_TRUE(lines[0].starts_with("w1 LOGIN \"support@okpay-wallet.example\" "));
  EXPECT_EQ(lines[1], "w2 EXAMINE \"INBOX\"");
  EXPECT_EQ(lines[2], "w3 IDLE");
  EXPECT_EQ(lines[3], "DONE");
  EXPECT_EQ(lines[4], "w4 IDLE");
  // One wake for "* 4", then the burst 5..9 gives one at once and at most one trailing wake.
  std::this_thread::sleep_for(400ms);
  const auto wakes = f.rec.wake_count();
  EXPECT_GE(wakes, 3U);
  EXPECT_LE(wakes, 4U);  // 4 only if the machine stretched the burst beyond one window
  EXPECT_TRUE(f.watcher().connected());
}

// A server without IDLE: the watcher must give up and leave polling in charge.
TEST(idle_watcher, server_without_idle_is_unsupported) {
  fake_server server;
  std::promise<std::string> login;
  server.serve([&](fake_server& s) {
    s.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake\r\n");
    login.set_value(s.line());
    s.send("w1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n");
  });
  watch_fixture f(endpoint_for(server.url()));
  const auto reason = f.rec.wait_state(watch_state::unsupported, 5s);
  ASSERT_TRUE(reason) << f.rec.history();
  EXPECT_NE(reason->find("IDLE"), std::string::npos);
  EXPECT_EQ(f.watcher().current_state(), watch_state::unsupported);
  EXPECT_FALSE(f.watcher().connected());
  EXPECT_TRUE(login.get_future().get().starts_with("w1 LOGIN "));
}

}  // namespace
}  // namespace supportd::idle
