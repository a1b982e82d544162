// Crash test: SIGKILL the daemon at random moments while it works through 500 messages; after
// restarts, every person has exactly one reply and every message exactly one final decision.

#include "resilience_support.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <random>
#include <set>

namespace supportd::test::resilience {
namespace {

/// The seed comes from SUPPORTD_RESILIENCE_SEED when set, so a failure can be replayed.
std::uint32_t seed() {
  if (const char* s = std::getenv("SUPPORTD_RESILIENCE_SEED"); s != nullptr && *s != '\0')
    return static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
  return std::random_device{}();
}

/// What one crash run produced.
struct crash_figures {
  int lost = 0;        // people without a reply
  int duplicated = 0;  // people with two different replies (a second answer: never allowed)
  int copies = 0;      // extra deliveries of the same reply (same Message-ID), each one:
  int in_flight = 0;   //   a process killed between the server's OK and its "sent" commit
  int resent_after_record = 0;  // a reply sent again after "sent" was recorded (never allowed)
};

class crash_test : public resilience_test {
 protected:
  crash_figures run_crash_scenario();
};

crash_figures crash_test::run_crash_scenario() {
  constexpr int total = 500;
  constexpr int kills = 40;
  crash_figures fig;
  instance a;
  // Small batches: kills land between fetch, decision, send and flag of different messages.
  a.imap_extra = "poll_seconds = 1\nbatch_size = 10\n";
  const fs::path config = write_config(a);
  expect_valid(config);

  mail_factory factory(servers_->dir() / "mail", "crash");
  std::vector<mail> mails;
  for (int i = 0; i < total; ++i) {
    if (i % 10 == 7) {  // 10 % machine mail: bounces, auto-replies, newsletters
      const auto& t = machine_templates[static_cast<std::size_t>(i / 10) % machine_templates.size()];
      mails.push_back(factory.make(t, i, "ooo" + std::to_string(i) + "@corp" + std::to_string(i % 5) + ".example",
                                   "Out Of Office", false));
    } else {
      const auto& t = human_templates[static_cast<std::size_t>(i) % human_templates.size()];
      mails.push_back(factory.make(t, i, "cust" + std::to_string(i) + "@customers" + std::to_string(i % 7) + ".example",
                                   "Customer " + std::to_string(i), true));
    }
  }

  // 250 wait in the mailbox at the start; the rest arrive in chunks while the daemon is killed.
  std::vector<std::int64_t> uids = append({mails.begin(), mails.begin() + 250});
  std::size_t appended = 250;

  const std::uint32_t s = seed();
  std::cout << "[ crash    ] seed=" << s << " (SUPPORTD_RESILIENCE_SEED replays it)\n";
  std::mt19937 rng(s);
  std::uniform_int_distribution<int> delay_ms(50, 600);
  const auto started = std::chrono::steady_clock::now();
  std::ostringstream delays;
  int kills_mid_work = 0;  // kills that left undecided or unflagged mail, or queued replies
  for (int k = 0; k < kills; ++k) {
    auto daemon = start_daemon(config, servers_->dir() / ("daemon" + std::to_string(k) + ".log"));
    const int d = delay_ms(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(d));
    daemon->signal(SIGKILL);
    EXPECT_EQ(daemon->wait(), -SIGKILL) << "kill " << k;
    delays << (k ? "," : "") << d;
    const auto ledger = read_ledger(db_of(a));
    bool busy = ledger.size() < appended;
    for (const auto& row : ledger) busy = busy || row.state != "flagged";
    for (const auto& row : read_outbox(db_of(a))) busy = busy || row.state == "queued";
    kills_mid_work += busy;
    if (k % 5 == 4 && appended < mails.size()) {
      const std::size_t n = std::min<std::size_t>(50, mails.size() - appended);
      auto more = append({mails.begin() + static_cast<std::ptrdiff_t>(appended),
                          mails.begin() + static_cast<std::ptrdiff_t>(appended + n)});
      uids.insert(uids.end(), more.begin(), more.end());
      appended += n;
    }
  }
  if (appended < mails.size()) {
    auto more = append({mails.begin() + static_cast<std::ptrdiff_t>(appended), mails.end()});
    uids.insert(uids.end(), more.begin(), more.end());
  }
  EXPECT_EQ(uids.size(), mails.size());
  std::cout << "[ crash    ] kills=" << kills << " (with work in progress: " << kills_mid_work
            << ") delays_ms=" << delays.str() << "\n"
            << "[ crash    ] replies at the sink after the kills: " << servers_->received_messages().size()
            << "\n";

  // Finish with --once runs until a run changes nothing.
  int once_runs = 0;
  std::size_t last_received = SIZE_MAX, last_final = SIZE_MAX;
  while (once_runs < 15) {
    ++once_runs;
    auto r = once(config);
    EXPECT_EQ(r.exit_code, 0) << r.out;
    const auto received = servers_->received_messages().size();
    std::size_t final_rows = 0;
    for (const auto& row : read_ledger(db_of(a))) final_rows += is_final(row);
    if (received == last_received && final_rows == last_final) break;
    last_received = received;
    last_final = final_rows;
  }
  EXPECT_LT(once_runs, 15) << "--once runs kept changing things";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "[ crash    ] --once runs until nothing changed: " << once_runs << ", elapsed " << seconds
            << " s\n";

  // Replies, matched to the message they answer: which replies (by their own Message-ID, which
  // is derived from the inbound one) and how many copies of each arrived.
  const auto received = servers_->received_messages();
  std::map<std::string, std::map<std::string, std::vector<const received_message*>>> replies;
  for (const auto& m : received) {
    auto parsed = mime::parse_message(m.data);
    EXPECT_TRUE(parsed.has_value()) << m.file;
    if (!parsed) continue;
    replies[parsed->in_reply_to][parsed->message_id].push_back(&m);
  }
  std::set<std::string> known_ids;
  int machine_answered = 0, humans = 0;
  for (const auto& m : mails) {
    known_ids.insert(m.message_id);
    const auto it = replies.find(m.message_id);
    const int distinct = it == replies.end() ? 0 : static_cast<int>(it->second.size());
    if (m.human) {
      ++humans;
      fig.lost += distinct == 0;
      fig.duplicated += distinct > 1;
      EXPECT_EQ(distinct, 1) << "replies to " << m.message_id;
    } else {
      machine_answered += distinct;
      EXPECT_EQ(distinct, 0) << "machine mail answered: " << m.message_id;
    }
  }
  int stray = 0;
  for (const auto& [id, by_reply] : replies) stray += known_ids.contains(id) ? 0 : static_cast<int>(by_reply.size());
  EXPECT_EQ(stray, 0) << "replies to messages we never sent";

  // Each extra copy of a reply explained by the logs: the daemon logs "message_id=X outcome=sent"
  // after committing the send. A copy without such a line left a process killed between the
  // SMTP server's acceptance of DATA and that commit (the RFC 1047 window); two such lines mean
  // a reply was sent again after it was recorded as sent, which no crash excuses.
  std::string all_logs;
  for (const auto& entry : fs::directory_iterator(servers_->dir()))
    if (entry.path().extension() == ".log") all_logs += slurp(entry.path());
  for (const auto& [inbound, by_reply] : replies) {
    for (const auto& [reply_id, list] : by_reply) {
      if (list.size() < 2) continue;
      fig.copies += static_cast<int>(list.size()) - 1;
      const int recorded = count_lines(all_logs, "message_id=" + reply_id + " outcome=sent");
      fig.in_flight += std::max(static_cast<int>(list.size()) - recorded, 0);
      fig.resent_after_record += std::max(recorded - 1, 0);
      std::cout << "[ crash    ] reply " << reply_id << " to " << inbound << " arrived " << list.size()
                << " times (" << list[0]->file.filename().string() << ", "
                << list[1]->file.filename().string() << "), recorded as sent " << recorded << " time(s)\n";
    }
  }

  // The ledger: exactly one inbound row per UID, each with a final decision, each flagged.
  std::map<std::int64_t, int> rows_per_uid;
  std::map<std::string, int> decisions;
  int not_final = 0, unflagged = 0;
  for (const auto& row : read_ledger(db_of(a))) {
    ++rows_per_uid[row.uid];
    ++decisions[row.decision.empty() ? "(none)" : row.decision];
    not_final += !is_final(row);
    unflagged += row.state != "flagged";
  }
  int ledger_missing = 0, ledger_doubled = 0;
  for (auto uid : uids) {
    const int n = rows_per_uid.contains(uid) ? rows_per_uid[uid] : 0;
    ledger_missing += n == 0;
    ledger_doubled += n > 1;
  }
  std::ostringstream dec;
  for (const auto& [d, n] : decisions) dec << " " << d << "=" << n;
  std::cout << "[ crash    ] messages=" << mails.size() << " humans=" << humans << " replies=" << received.size()
            << " machine_answered=" << machine_answered << " stray=" << stray << "\n"
            << "[ crash    ] ledger rows=" << rows_per_uid.size() << " missing=" << ledger_missing
            << " doubled=" << ledger_doubled << " not_final=" << not_final << " unflagged=" << unflagged
            << " decisions:" << dec.str() << "\n"
            << "[ crash    ] lost=" << fig.lost << " duplicated=" << fig.duplicated
            << " same_reply_again=" << fig.copies << " (killed between the server's OK and the commit: "
            << fig.in_flight << ", resent after recorded: " << fig.resent_after_record << ")\n";
  EXPECT_EQ(machine_answered, 0);
  EXPECT_EQ(ledger_missing, 0);
  EXPECT_EQ(ledger_doubled, 0);
  EXPECT_EQ(not_final, 0);
  EXPECT_EQ(unflagged, 0) << "every decided message is flagged in the mailbox";
  EXPECT_EQ(decisions["auto_reply"], humans);
  EXPECT_EQ(decisions["suppress"], static_cast<int>(mails.size()) - humans);
  return fig;
}

// Every message answered exactly once: no one without a reply, no one with two different
// replies, nothing decided twice, and no reply sent again once recorded as sent. The one thing a
// SIGKILL can still cause is the RFC 1047 window: killed after the SMTP server took a reply and
// before the daemon committed "sent", the next process sends the same reply (same Message-ID,
// so the recipient's mail system can drop the copy). The test prints how often that happened.
TEST_F(crash_test, SigkillAtRandomMomentsAnswersEveryMessageOnce) {
  const crash_figures fig = run_crash_scenario();
  EXPECT_EQ(fig.lost, 0);
  EXPECT_EQ(fig.duplicated, 0);
  EXPECT_EQ(fig.resent_after_record, 0);
  EXPECT_EQ(fig.in_flight, fig.copies) << "every extra copy comes from the RFC 1047 window";
}

}  // namespace
}  // namespace supportd::test::resilience
