// IMAP faults: Dovecot goes away (twice) under a running daemon, which must ride it out, log
// each outage once, and answer the mail that arrives after each recovery by itself.

#include "resilience_support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>

namespace supportd::test::resilience {
namespace {

/// Silences this process's stderr (and so the harness script's traceback) while in scope.
class quiet_stderr {
 public:
  quiet_stderr() : saved_(dup(STDERR_FILENO)) {
    const int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    dup2(null, STDERR_FILENO);
    close(null);
  }
  ~quiet_stderr() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
  }
  quiet_stderr(const quiet_stderr&) = delete;
  quiet_stderr& operator=(const quiet_stderr&) = delete;

 private:
  int saved_;
};

TEST_F(resilience_test, ImapOutagesAreRiddenOutAndLoggedOncePerOutage) {
  instance a;
  a.imap_extra = "poll_seconds = 1\nreconnect_max_seconds = 2\n";
  const fs::path config = write_config(a);
  expect_valid(config);
  mail_factory factory(servers_->dir() / "mail", "imapdown");
  int n = 0;
  auto batch = [&](int count) {
    std::vector<mail> out;
    for (int i = 0; i < count; ++i, ++n)
      out.push_back(factory.make(human_templates[static_cast<std::size_t>(n) % human_templates.size()], n,
                                 "imap" + std::to_string(n) + "@customers.example", "Patient Customer", true));
    return out;
  };

  const fs::path log = servers_->dir() / "daemon.log";
  auto daemon = start_daemon(config, log);
  append(batch(3));
  ASSERT_TRUE(wait_until([&] { return servers_->received_messages().size() >= 3; }, 30s)) << slurp(log);

  constexpr int outages = 2;
  std::size_t expected = 3;
  std::vector<double> recovery_seconds;
  for (int o = 1; o <= outages; ++o) {
    servers_->stop_imap();
    const auto pending = batch(3);
    {
      quiet_stderr quiet;  // the expected connection failure prints a Python traceback
      EXPECT_THROW(append(pending), std::runtime_error) << "APPEND must be impossible while Dovecot is down";
    }
    ASSERT_TRUE(wait_until([&] { return count_lines(slurp(log), "outcome=imap_unavailable") >= o; }, 15s))
        << slurp(log);
    std::this_thread::sleep_for(4s);  // many poll intervals: still one line for this outage
    int code = 0;
    ASSERT_FALSE(daemon->wait_for(20, code)) << "the daemon exited during the outage: " << code << "\n"
                                            << slurp(log);
    servers_->start_imap();
    append(pending);
    const auto restarted = std::chrono::steady_clock::now();
    expected += pending.size();
    ASSERT_TRUE(wait_until([&] { return servers_->received_messages().size() >= expected; }, 30s))
        << "the daemon did not resume by itself after outage " << o << "\n" << slurp(log);
    recovery_seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count());
  }
  std::this_thread::sleep_for(2s);
  int code = 0;
  ASSERT_FALSE(daemon->wait_for(20, code)) << "the daemon exited: " << code;
  daemon->signal(SIGTERM);
  ASSERT_TRUE(daemon->wait_for(10'000, code)) << "daemon did not stop";
  EXPECT_EQ(code, 0);

  const std::string text = slurp(log);
  const auto received = servers_->received_messages();
  const auto replies = replies_by_in_reply_to(received);
  int twice = 0;
  for (const auto& [id, count] : replies) twice += count > 1;
  const int unavailable = count_lines(text, "outcome=imap_unavailable");
  const int recovered = count_lines(text, "outcome=imap_recovered");
  std::cout << "[ imap     ] outages=" << outages << " replies=" << received.size() << "/" << expected
            << " twice=" << twice << " imap_unavailable lines=" << unavailable
            << " imap_recovered lines=" << recovered << " answered after restart in";
  for (double s : recovery_seconds) std::cout << " " << s << "s";
  std::cout << "\n";
  EXPECT_EQ(received.size(), expected);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(unavailable, outages) << text;
  EXPECT_EQ(recovered, outages) << text;
}

}  // namespace
}  // namespace supportd::test::resilience
