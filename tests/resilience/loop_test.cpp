// Loop test: two auto-responders answering each other. The test plays the MTA between them;
// RFC 3834 markers must end the exchange by themselves within a couple of messages.

#include "resilience_support.hpp"

#include <algorithm>

namespace supportd::test::resilience {
namespace {

TEST_F(resilience_test, TwoRespondersDoNotLoop) {
  instance a;
  a.name = "a";
  instance b;
  b.name = "b";
  b.imap_user = std::string(mail_servers::other_user);
  b.from = "Help Desk <helpdesk@other-company.example>";
  b.addresses = {"helpdesk@other-company.example", std::string(mail_servers::other_user)};
  b.message_id_domain = "other-company.example";
  const fs::path config_a = write_config(a);
  const fs::path config_b = write_config(b);
  expect_valid(config_a);
  expect_valid(config_b);

  // A person at the other company writes to us: the only human message in the exchange.
  mail_factory factory(servers_->dir() / "mail", "loop");
  append({factory.make("human_en_withdrawal", 0, "helpdesk@other-company.example", "Help Desk", true)});

  auto owner = [&](const std::string& rcpt) -> std::string {
    for (const auto* in : {&a, &b})
      if (std::ranges::find(in->addresses, rcpt) != in->addresses.end()) return in->imap_user;
    return {};
  };

  constexpr int max_rounds = 10;
  std::size_t delivered = 0;  // sink messages the "MTA" has handled
  int rounds = 0, quiet_rounds = 0, appended = 0, external = 0;
  for (; rounds < max_rounds && quiet_rounds < 2; ++rounds) {
    auto ra = once(config_a);
    ASSERT_EQ(ra.exit_code, 0) << ra.out;
    auto rb = once(config_b);
    ASSERT_EQ(rb.exit_code, 0) << rb.out;
    const auto got = servers_->received_messages();
    quiet_rounds = got.size() == delivered ? quiet_rounds + 1 : 0;
    for (; delivered < got.size(); ++delivered) {
      for (const auto& rcpt : got[delivered].rcpt_tos) {
        const std::string user = owner(rcpt);
        if (user.empty()) {
          ++external;
          continue;
        }
        servers_->append({got[delivered].file}, user);
        ++appended;
      }
    }
  }
  const auto total = servers_->received_messages().size();
  std::cout << "[ loop     ] rounds=" << rounds << " messages sent by the responders=" << total
            << " delivered to a responder=" << appended << " external=" << external << "\n";
  EXPECT_LT(rounds, max_rounds) << "the exchange did not stop by itself";
  EXPECT_GE(total, 1u) << "the human message should have been answered";
  EXPECT_LE(total, 2u) << "two responders kept answering each other";

  // B recorded A's auto-reply and did not answer it.
  bool b_suppressed = false;
  for (const auto& row : read_ledger(db_of(b))) b_suppressed = b_suppressed || row.decision == "suppress";
  EXPECT_TRUE(b_suppressed);
}

}  // namespace
}  // namespace supportd::test::resilience
