// SMTP faults: the sink goes away while the daemon runs, and a recipient is refused for good.

#include "resilience_support.hpp"

#include <csignal>

namespace supportd::test::resilience {
namespace {

instance fast_retry() {
  instance a;
  a.smtp_extra = "retry_base_seconds = 1\nretry_max_seconds = 2\n";
  return a;
}

TEST_F(resilience_test, SmtpOutageQueuesRepliesAndSendsEachOnceAfterRecovery) {
  const instance a = fast_retry();
  const fs::path config = write_config(a);
  expect_valid(config);
  mail_factory factory(servers_->dir() / "mail", "smtpdown");
  std::vector<mail> before, during;
  for (int i = 0; i < 10; ++i)
    before.push_back(factory.make(human_templates[static_cast<std::size_t>(i) % human_templates.size()], i,
                                  "early" + std::to_string(i) + "@customers.example", "Early Bird", true));
  for (int i = 10; i < 25; ++i)
    during.push_back(factory.make(human_templates[static_cast<std::size_t>(i) % human_templates.size()], i,
                                  "late" + std::to_string(i) + "@customers.example", "Late Comer", true));

  const fs::path log = servers_->dir() / "daemon.log";
  auto daemon = start_daemon(config, log);
  append(before);
  ASSERT_TRUE(wait_until([&] { return servers_->received_messages().size() >= before.size(); }, 30s))
      << slurp(log);

  servers_->stop_smtp();
  const auto outage_start = std::chrono::steady_clock::now();
  append(during);
  // Decisions go on while SMTP is down: every message is recorded, its reply queued.
  ASSERT_TRUE(wait_until([&] {
    int final_rows = 0;
    for (const auto& row : read_ledger(db_of(a))) final_rows += is_final(row);
    return final_rows == 25;
  }, 30s)) << slurp(log);
  ASSERT_TRUE(wait_until([&] { return count_lines(slurp(log), "outcome=smtp_unavailable") > 0; }, 15s))
      << slurp(log);
  std::this_thread::sleep_for(4s);  // several retry rounds at 1-2 s while the server is away
  int queued = 0;
  for (const auto& row : read_outbox(db_of(a))) queued += row.state == "queued";
  servers_->start_smtp();
  const double outage =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - outage_start).count();

  ASSERT_TRUE(wait_until([&] { return servers_->received_messages().size() >= 25; }, 30s)) << slurp(log);
  std::this_thread::sleep_for(3s);  // a duplicate would show up now
  daemon->signal(SIGTERM);
  int code = -1;
  ASSERT_TRUE(daemon->wait_for(10'000, code)) << "daemon did not stop";
  EXPECT_EQ(code, 0);

  const auto received = servers_->received_messages();
  const auto replies = replies_by_in_reply_to(received);
  int missing = 0, twice = 0;
  for (const auto* batch : {&before, &during})
    for (const auto& m : *batch) {
      const int n = replies.contains(m.message_id) ? replies.at(m.message_id) : 0;
      missing += n == 0;
      twice += n > 1;
    }
  const std::string text = slurp(log);
  const int unavailable = count_lines(text, "outcome=smtp_unavailable");
  const int recovered = count_lines(text, "outcome=smtp_recovered");
  std::cout << "[ smtp     ] outage " << outage << " s, replies queued during it=" << queued
            << ", received=" << received.size() << " missing=" << missing << " twice=" << twice
            << " smtp_unavailable lines=" << unavailable << " smtp_recovered lines=" << recovered
            << "\n";
  EXPECT_EQ(queued, 15) << "the replies decided during the outage wait in the outbox";
  EXPECT_EQ(received.size(), 25u);
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
  EXPECT_EQ(unavailable, 1) << text;
  EXPECT_EQ(recovered, 1) << text;
}

TEST_F(resilience_test, Smtp550IsRecordedFailedEscalatedAndNotRetried) {
  const instance a = fast_retry();
  const fs::path config = write_config(a);
  expect_valid(config);
  mail_factory factory(servers_->dir() / "mail", "smtp550");
  const std::string refused_address = "reject550-kim@customers.example";
  const mail refused = factory.make("human_en_withdrawal", 1, refused_address, "Kim Refused", true);
  const mail fine = factory.make("human_en_password", 2, "fine@customers.example", "Fine Person", true);

  const fs::path log = servers_->dir() / "daemon.log";
  auto daemon = start_daemon(config, log);
  append({refused, fine});
  auto refused_row = [&]() -> std::optional<outbox_row> {
    for (const auto& row : read_outbox(db_of(a)))
      if (row.recipients.find("reject550") != std::string::npos) return row;
    return std::nullopt;
  };
  ASSERT_TRUE(wait_until([&] {
    auto row = refused_row();
    return row && row->state == "failed" && !servers_->received_messages().empty();
  }, 30s)) << slurp(log);
  std::this_thread::sleep_for(5s);  // a retry storm at 1-2 s intervals would show now
  daemon->signal(SIGTERM);
  int code = -1;
  ASSERT_TRUE(daemon->wait_for(10'000, code)) << "daemon did not stop";
  EXPECT_EQ(code, 0);

  const auto row = refused_row();
  ASSERT_TRUE(row);
  const std::string text = slurp(log);
  const int send_lines = count_lines(text, "message_id=" + row->message_id);
  const int failed_lines = count_lines(text, "outcome=failed");
  std::cout << "[ smtp550  ] outbox state=" << row->state << " attempts=" << row->attempts
            << " log lines for the reply=" << send_lines << " outcome=failed lines=" << failed_lines
            << " last_error=\"" << row->last_error << "\"\n";
  EXPECT_EQ(row->state, "failed");
  EXPECT_EQ(row->attempts, 1) << "a 5yz reply is final (RFC 5321 4.2.1): no retries";
  EXPECT_EQ(failed_lines, 1) << text;
  EXPECT_EQ(count_lines(text, "smtp_unavailable"), 0) << "a refused recipient is not an outage";

  // The other customer is answered; the refused one's thread waits for a person.
  const auto received = servers_->received_messages();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(in_reply_to(received[0]), fine.message_id);
  std::int64_t thread_id = 0;
  for (const auto& t : threads(config))
    if (t["customer"] == refused_address) thread_id = t["id"].get<std::int64_t>();
  ASSERT_NE(thread_id, 0);
  const auto shown = thread(config, thread_id);
  std::cout << "[ smtp550  ] thread " << thread_id << " status=" << shown["status"] << "\n";
  EXPECT_EQ(shown["status"], "escalated") << shown.dump(2);
}

}  // namespace
}  // namespace supportd::test::resilience
