// Flood limits: one reply per sender and category within the repeat window (RFC 5230 :days),
// a daily cap per recipient, and the kill switch that decides everything but sends nothing.

#include "resilience_support.hpp"

namespace supportd::test::resilience {
namespace {

instance capped() {
  instance a;
  a.reply_extra = "max_per_minute = 1000000\nmax_per_recipient_per_day = 2\nrepeat_window_hours = 24\n";
  return a;
}

std::string decisions_of(const std::vector<ledger_row>& ledger) {
  std::string out;
  for (const auto& row : ledger) out += (out.empty() ? "" : ", ") + row.decision;
  return out;
}

TEST_F(resilience_test, SameCategoryFromOneSenderIsAnsweredOnce) {
  const instance a = capped();
  const fs::path config = write_config(a);
  expect_valid(config);
  mail_factory factory(servers_->dir() / "mail", "repeat");
  std::vector<mail> mails;
  for (int i = 0; i < 3; ++i)
    mails.push_back(factory.make("human_en_withdrawal", i, "impatient@customers.example", "Impatient", true));
  append(mails);
  auto r = once(config);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto ledger = read_ledger(db_of(a));
  const auto received = servers_->received_messages();
  std::cout << "[ flood    ] same category x3: replies=" << received.size()
            << " decisions: " << decisions_of(ledger) << "\n";
  EXPECT_EQ(received.size(), 1u);
  ASSERT_EQ(ledger.size(), 3u);
  int replied = 0;
  for (const auto& row : ledger) {
    EXPECT_TRUE(is_final(row));
    replied += row.decision == "auto_reply";
  }
  EXPECT_EQ(replied, 1);
  // A later run does not make up for the withheld ones.
  ASSERT_EQ(once(config).exit_code, 0);
  EXPECT_EQ(servers_->received_messages().size(), 1u);
}

TEST_F(resilience_test, DifferentCategoriesFromOneSenderAreCappedPerDay) {
  const instance a = capped();
  const fs::path config = write_config(a);
  expect_valid(config);
  mail_factory factory(servers_->dir() / "mail", "cap");
  std::vector<mail> mails;
  int n = 0;
  // withdrawal_delay, password_reset, fees, payment_failed: four different categories.
  for (const char* t : {"human_en_withdrawal", "human_en_password", "human_en_fees", "human_zh_payment"})
    mails.push_back(factory.make(t, n++, "chatty@customers.example", "Chatty", true));
  append(mails);
  auto r = once(config);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto ledger = read_ledger(db_of(a));
  std::set<std::string> categories;
  for (const auto& t : threads(config)) categories.insert(t["category"].get<std::string>());
  const auto received = servers_->received_messages();
  std::cout << "[ flood    ] " << categories.size() << " categories from one sender: replies="
            << received.size() << " decisions: " << decisions_of(ledger) << "\n";
  EXPECT_EQ(categories.size(), 4u) << "the test needs four different categories";
  EXPECT_EQ(received.size(), 2u);
  ASSERT_EQ(ledger.size(), 4u);
  for (const auto& row : ledger) EXPECT_TRUE(is_final(row)) << row.decision;
}

TEST_F(resilience_test, KillSwitchSendsNothingAndRecordsHold) {
  instance a = capped();
  a.reply_extra += "enabled = false\n";
  const fs::path config = write_config(a);
  expect_valid(config);
  mail_factory factory(servers_->dir() / "mail", "killswitch");
  std::vector<mail> mails;
  for (int i = 0; i < 4; ++i)
    mails.push_back(factory.make(human_templates[static_cast<std::size_t>(i)], i,
                                 "held" + std::to_string(i) + "@customers.example", "Held", true));
  mails.push_back(factory.make("machine_bounce", 9, "held9@customers.example", "", false));
  append(mails);
  auto r = once(config);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(once(config).exit_code, 0);
  const auto ledger = read_ledger(db_of(a));
  std::cout << "[ flood    ] kill switch: replies=" << servers_->received_messages().size()
            << " outbox=" << read_outbox(db_of(a)).size() << " decisions: " << decisions_of(ledger) << "\n";
  EXPECT_TRUE(servers_->received_messages().empty());
  EXPECT_TRUE(read_outbox(db_of(a)).empty());
  ASSERT_EQ(ledger.size(), mails.size());
  for (std::size_t i = 0; i < ledger.size(); ++i) {
    EXPECT_TRUE(is_final(ledger[i]));
    if (ledger[i].message_id == mails.back().message_id)
      EXPECT_EQ(ledger[i].decision, "suppress") << "machine mail is suppressed before the switch";
    else
      EXPECT_EQ(ledger[i].decision, "hold") << ledger[i].message_id;
  }
}

// The global cap per minute holds exactly while several SMTP connections send at once: the
// rest waits in the outbox (still queued, not failed), and the cap is logged once.
TEST_F(resilience_test, GlobalRateLimitHoldsAcrossConnections) {
  instance a;
  a.reply_extra = "max_per_minute = 3\n";
  a.smtp_extra = "connections = 4\n";
  const fs::path config = write_config(a);
  expect_valid(config);
  mail_factory factory(servers_->dir() / "mail", "rate");
  std::vector<mail> mails;
  for (int i = 0; i < 8; ++i)
    mails.push_back(factory.make(human_templates[static_cast<std::size_t>(i) % human_templates.size()], i,
                                 "rate" + std::to_string(i) + "@customers.example", "Rate", true));
  append(mails);
  auto r = once(config);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto outbox = read_outbox(db_of(a));
  int queued = 0, sent = 0;
  for (const auto& row : outbox) {
    queued += row.state == "queued";
    sent += row.state == "sent";
  }
  std::cout << "[ flood    ] max_per_minute=3 over 4 connections: replies="
            << servers_->received_messages().size() << " sent=" << sent << " queued=" << queued << "\n";
  EXPECT_EQ(servers_->received_messages().size(), 3u);
  EXPECT_EQ(sent, 3);
  EXPECT_EQ(queued, 5);
  EXPECT_EQ(count_lines(r.out, "outcome=rate_limited"), 1) << r.out;
  // Within the same minute a second run sends nothing more.
  auto again = once(config);
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(servers_->received_messages().size(), 3u);
}

}  // namespace
}  // namespace supportd::test::resilience
