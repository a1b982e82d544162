// The real supportd binary against real Dovecot and a real SMTP server on loopback.

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness/mail_servers.hpp"
#include "supportd/mime/message.hpp"
#include "process.hpp"

namespace supportd::test {
namespace {

const std::string data_dir = std::string(SUPPORTD_TEST_DATA) + "/daemon/";

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    servers_ = std::make_unique<mail_servers>();
    write_config(servers_->imap_url());
  }

  void write_config(const std::string& imap_url, const std::string& extra_imap = "",
                    int poll_seconds = 1) {
    config_ = servers_->dir() / "supportd.toml";
    std::ofstream(servers_->dir() / "imap.secret") << "test\n";
    std::ofstream(config_) << "[imap]\nurl = \"" << imap_url << "\"\nuser = \"" << mail_servers::user
                           << "\"\npassword_file = \"imap.secret\"\npoll_seconds = "
                           << poll_seconds << "\n"
                           << extra_imap << "[smtp]\nurl = \"" << servers_->smtp_url()
                           << "\"\n[reply]\nfrom = \"OKPay Support <support@okpay-wallet.example>\"\n"
                           << "addresses = [\"support@okpay-wallet.example\"]\n"
                           << "[store]\npath = \"state/supportd.db\"\n"
                           << "[classifier]\nrules = \"" << SUPPORTD_SOURCE_DIR
                           << "/config/categories.toml\"\n[templates]\ndir = \""
                           << SUPPORTD_SOURCE_DIR << "/templates\"\n";
  }

  run_result supportd(std::vector<std::string> args) {
    args.insert(args.begin(), SUPPORTD_BINARY);
    return run(args, (servers_->dir() / ("cmd" + std::to_string(++runs_) + ".log")).string());
  }
  run_result once() { return supportd({"run", "--once", "--config", config_.string()}); }

  std::vector<std::int64_t> append(const std::vector<std::string>& names) {
    std::vector<std::filesystem::path> files;
    for (const auto& n : names) files.push_back(data_dir + n);
    return servers_->append(files);
  }

  static std::string header(const std::string& data, const std::string& name) {
    auto pos = data.find("\r\n" + name + ": ");
    if (data.rfind(name + ": ", 0) == 0) pos = 0;
    else if (pos == std::string::npos) return {};
    else pos += 2;
    auto start = pos + name.size() + 2;
    auto end = data.find("\r\n", start);
    std::string value = data.substr(start, end - start);
    // Unfold continuation lines (RFC 5322 §2.2.3).
    while (end + 2 < data.size() && (data[end + 2] == ' ' || data[end + 2] == '\t')) {
      auto next = data.find("\r\n", end + 2);
      value += data.substr(end + 2, next - end - 2);
      end = next;
    }
    return value;
  }

  /// The decoded UTF-8 body of a reply, read back with our own MIME parser.
  static std::string body_of(const received_message& m) {
    auto parsed = mime::parse_message(m.data);
    return parsed ? parsed->body_text : std::string();
  }

  const received_message* reply_to(const std::vector<received_message>& msgs,
                                    const std::string& in_reply_to) {
    for (const auto& m : msgs)
      if (header(m.data, "In-Reply-To") == "<" + in_reply_to + ">") return &m;
    return nullptr;
  }

  std::unique_ptr<mail_servers> servers_;
  std::filesystem::path config_;
  int runs_ = 0;
};

TEST_F(EndToEnd, RepliesToPeopleInTheirLanguageAndNeverToMachines) {
  auto uids = append({"customer_en_withdrawal.eml", "customer_zh_gb2312.eml",
                      "customer_zh_big5_frozen.eml", "bounce.eml", "out_of_office.eml",
                      "newsletter.eml", "noreply.eml"});
  ASSERT_EQ(uids.size(), 7u);
  auto r = once();
  ASSERT_EQ(r.exit_code, 0) << r.out;

  auto received = servers_->received_messages();
  ASSERT_EQ(received.size(), 3u) << r.out;

  const auto* en = reply_to(received, "wd-1@mail.example.com");
  ASSERT_NE(en, nullptr);
  EXPECT_EQ(en->rcpt_tos, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(en->mail_from, "<>");
  EXPECT_EQ(header(en->data, "Auto-Submitted"), "auto-replied");
  EXPECT_EQ(header(en->data, "X-Auto-Response-Suppress"), "All");
  EXPECT_EQ(header(en->data, "References"), "<wd-1@mail.example.com>");
  EXPECT_TRUE(header(en->data, "Subject").starts_with("Re: Withdrawal to my bank account"));
  EXPECT_NE(header(en->data, "Subject").find("[#OK-"), std::string::npos);
  EXPECT_TRUE(header(en->data, "Message-ID").ends_with("@okpay-wallet.example>"));
  EXPECT_FALSE(header(en->data, "Date").empty());
  EXPECT_NE(body_of(*en).find("OKPay Support"), std::string::npos) << body_of(*en);

  const auto* zh = reply_to(received, "pay-2@example.net");
  ASSERT_NE(zh, nullptr);
  EXPECT_EQ(zh->rcpt_tos, std::vector<std::string>{"wang@example.net"});
  EXPECT_TRUE(header(zh->data, "Subject").starts_with("=?utf-8?B?"));
  EXPECT_NE(body_of(*zh).find("客服"), std::string::npos) << body_of(*zh);
  EXPECT_NE(body_of(*zh).find("王小红"), std::string::npos) << body_of(*zh);

  const auto* big5 = reply_to(received, "frz-7@example.org");
  ASSERT_NE(big5, nullptr);
  EXPECT_NE(body_of(*big5).find("客服"), std::string::npos) << body_of(*big5);

  // Replied mail is \Answered; machine mail only \Seen.
  EXPECT_NE(servers_->flags(uids[0]).find("\\Answered"), std::string::npos);
  EXPECT_EQ(servers_->flags(uids[3]).find("\\Answered"), std::string::npos);
  EXPECT_NE(servers_->flags(uids[3]).find("\\Seen"), std::string::npos);

  // `why` explains a decision from the log: rule, keywords with weights, template, send state.
  auto why = supportd({"why", "<wd-1@mail.example.com>", "--config", config_.string()});
  ASSERT_EQ(why.exit_code, 0) << why.out;
  EXPECT_NE(why.out.find("decision:   auto_reply"), std::string::npos) << why.out;
  EXPECT_NE(why.out.find("en/withdrawal_delay@"), std::string::npos) << why.out;
  EXPECT_NE(why.out.find("sent, 0 failed attempts"), std::string::npos) << why.out;
  EXPECT_NE(why.out.find("(subject "), std::string::npos) << why.out;
  auto why_bounce = supportd({"why", "bounce-3@mx.example.org", "--config", config_.string()});
  EXPECT_NE(why_bounce.out.find("auto-submitted"), std::string::npos) << why_bounce.out;

  // A second run finds nothing new and sends nothing.
  auto again = once();
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(servers_->received_messages().size(), 3u);

  // The thread log shows every message, with machine mail suppressed.
  auto list = supportd({"threads", "list", "--json", "--config", config_.string()});
  ASSERT_EQ(list.exit_code, 0) << list.out;
  std::istringstream lines(list.out);
  int suppressed = 0, total = 0;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    ++total;
    suppressed += j["status"] == "suppressed";
  }
  EXPECT_EQ(total, 7);
  EXPECT_EQ(suppressed, 4);
}

TEST_F(EndToEnd, CustomerReplyJoinsItsThreadAndEscalates) {
  append({"customer_en_withdrawal.eml"});
  ASSERT_EQ(once().exit_code, 0);
  auto received = servers_->received_messages();
  ASSERT_EQ(received.size(), 1u);
  std::string our_id = header(received[0].data, "Message-ID");
  std::string subject = header(received[0].data, "Subject");

  auto follow_up = servers_->dir() / "follow_up.eml";
  std::ofstream(follow_up, std::ios::binary)
      << "From: Alice Walker <alice@example.com>\r\nTo: support@okpay-wallet.example\r\n"
      << "Subject: " << subject << "\r\nMessage-ID: <wd-2@mail.example.com>\r\n"
      << "In-Reply-To: " << our_id << "\r\nReferences: <wd-1@mail.example.com> " << our_id
      << "\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n"
      << "\r\nIt is still not there. Please help!\r\n\r\nOn Sun, OKPay Support wrote:\r\n"
      << "> We received your message\r\n";
  servers_->append({follow_up});
  auto r = once();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(servers_->received_messages().size(), 1u) << "no second auto-reply";

  auto list = supportd({"threads", "list", "--status", "escalated", "--json", "--config",
                        config_.string()});
  ASSERT_EQ(list.exit_code, 0) << list.out;
  auto j = nlohmann::json::parse(list.out.substr(0, list.out.find('\n')));
  EXPECT_EQ(j["customer"], "alice@example.com");
  auto show = supportd({"threads", "show", std::to_string(j["id"].get<int>()), "--config",
                        config_.string()});
  EXPECT_NE(show.out.find("It is still not there"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("customer wrote again"), std::string::npos) << show.out;

  auto resolve = supportd({"threads", "resolve", std::to_string(j["id"].get<int>()), "--config",
                           config_.string()});
  EXPECT_EQ(resolve.exit_code, 0);
  auto resolved = supportd({"threads", "list", "--status", "resolved", "--config",
                            config_.string()});
  EXPECT_NE(resolved.out.find("alice@example.com"), std::string::npos);
}

TEST_F(EndToEnd, DaemonAnswersNewMailReloadsAndStopsCleanly) {
  child daemon({SUPPORTD_BINARY, "run", "--config", config_.string()},
               (servers_->dir() / "daemon.log").string());
  append({"customer_zh_gb2312.eml"});
  for (int i = 0; i < 150 && servers_->received_messages().empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(servers_->received_messages().size(), 1u);

  daemon.signal(SIGHUP);  // reload rules and templates
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  append({"customer_en_withdrawal.eml"});
  for (int i = 0; i < 150 && servers_->received_messages().size() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(servers_->received_messages().size(), 2u);

  daemon.signal(SIGTERM);
  int code = -1;
  ASSERT_TRUE(daemon.wait_for(10'000, code)) << "daemon did not stop on SIGTERM";
  EXPECT_EQ(code, 0);
  std::ifstream log(servers_->dir() / "daemon.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("stage=reload outcome=ok"), std::string::npos) << text;
  EXPECT_NE(text.find("outcome=stopped"), std::string::npos) << text;
}

TEST_F(EndToEnd, IdleWakesTheDaemonWithoutWaitingForThePoll) {
  write_config(servers_->imap_url(), "", 60);  // polling alone would take a minute
  child daemon({SUPPORTD_BINARY, "run", "--config", config_.string()},
               (servers_->dir() / "daemon.log").string());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // first poll done, IDLE up
  auto start = std::chrono::steady_clock::now();
  append({"customer_en_withdrawal.eml"});
  while (servers_->received_messages().empty() &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(10))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  std::cout << "APPEND to reply at the SMTP server: " << latency.count() << " ms\n";
  EXPECT_EQ(servers_->received_messages().size(), 1u);
  EXPECT_LT(latency.count(), 5000);
  daemon.signal(SIGTERM);
  int code = -1;
  ASSERT_TRUE(daemon.wait_for(10'000, code));
  EXPECT_EQ(code, 0);
}

TEST_F(EndToEnd, AgentsPageAndMetricsAreServed) {
  std::ofstream(servers_->dir() / "web.token") << "agent-token-123\n";
  std::ofstream(config_, std::ios::app)
      << "[web]\nenabled = true\nport = 0\ntoken_file = \"web.token\"\n";
  append({"customer_en_withdrawal.eml", "bounce.eml"});
  child daemon({SUPPORTD_BINARY, "run", "--config", config_.string()},
               (servers_->dir() / "daemon.log").string());
  int port = 0;
  for (int i = 0; i < 100 && (port == 0 || servers_->received_messages().empty()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream log(servers_->dir() / "daemon.log");
    for (std::string line; std::getline(log, line);)
      if (auto pos = line.find("outcome=listening address=127.0.0.1:"); pos != std::string::npos)
        port = std::stoi(line.substr(pos + 36));
  }
  ASSERT_GT(port, 0) << "web server did not start";
  auto get = [&](const std::string& path, const std::string& token) {
    std::string code =
        "import urllib.request,sys\n"
        "r=urllib.request.Request('http://127.0.0.1:" + std::to_string(port) + path + "')\n"
        "t=sys.argv[1]\n"
        "if t: r.add_header('Authorization','Bearer '+t)\n"
        "try:\n  resp=urllib.request.urlopen(r,timeout=5); print(resp.status); print(resp.read().decode())\n"
        "except urllib.error.HTTPError as e: print(e.code)\n";
    return run({"/usr/bin/python3", "-c", code, token},
               (servers_->dir() / ("http" + std::to_string(++runs_) + ".log")).string())
        .out;
  };
  EXPECT_TRUE(get("/healthz", "").starts_with("200"));
  EXPECT_TRUE(get("/metrics", "").starts_with("401"));
  std::string metrics = get("/metrics", "agent-token-123");
  EXPECT_TRUE(metrics.starts_with("200")) << metrics;
  EXPECT_NE(metrics.find("supportd_messages_total"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("supportd_last_successful_poll_timestamp_seconds"), std::string::npos);
  EXPECT_NE(metrics.find("supportd_smtp_send_duration_seconds_count"), std::string::npos);
  std::string page = get("/", "agent-token-123");
  EXPECT_TRUE(page.starts_with("200")) << page;
  daemon.signal(SIGTERM);
  int code = -1;
  ASSERT_TRUE(daemon.wait_for(10'000, code));
  EXPECT_EQ(code, 0);
}

TEST_F(EndToEnd, OverdueEscalationsAreRaisedAndDigested) {
  std::ofstream(config_, std::ios::app)
      << "[followup]\ndeadline_hours = 1\ndigest_hour = 0\n"
      << "digest_to = \"Agents <agents@okpay-wallet.example>\"\n";
  append({"customer_zh_big5_frozen.eml"});  // account_frozen escalates
  ASSERT_EQ(once().exit_code, 0);
  ASSERT_EQ(servers_->received_messages().size(), 1u);
  // Two hours pass without an agent's answer.
  auto age = run({"/usr/bin/sqlite3", (servers_->dir() / "state/supportd.db").string(),
                  "UPDATE threads SET updated_at = updated_at - 7200"},
                 (servers_->dir() / "sqlite.log").string());
  ASSERT_EQ(age.exit_code, 0) << age.out;
  auto r = once();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("outcome=overdue"), std::string::npos) << r.out;
  auto received = servers_->received_messages();
  ASSERT_EQ(received.size(), 2u) << r.out;
  EXPECT_EQ(received[1].rcpt_tos, std::vector<std::string>{"agents@okpay-wallet.example"});
  EXPECT_NE(received[1].data.find("overdue"), std::string::npos);
  auto list = supportd({"threads", "list", "--json", "--config", config_.string()});
  auto j = nlohmann::json::parse(list.out.substr(0, list.out.find('\n')));
  EXPECT_EQ(j["priority"], 1);
  // Still one digest a day, however often the poller runs.
  ASSERT_EQ(once().exit_code, 0);
  EXPECT_EQ(servers_->received_messages().size(), 2u);
}

TEST_F(EndToEnd, ImapsWorks) {
  if (servers_->imaps_port() == 0) GTEST_SKIP() << "no IMAPS listener (openssl missing)";
  write_config(servers_->imaps_url(), "insecure_skip_verify = true\n");
  append({"customer_en_withdrawal.eml"});
  auto r = once();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(servers_->received_messages().size(), 1u);
}

TEST_F(EndToEnd, WrongPasswordFailsClearlyWithoutLeakingIt) {
  std::ofstream(servers_->dir() / "imap.secret") << "wrong-secret-xyz\n";
  auto r = once();
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out.find("wrong-secret-xyz"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("imap_unavailable"), std::string::npos) << r.out;
}

TEST_F(EndToEnd, CheckConfigValidatesEverything) {
  auto ok = supportd({"check-config", "--config", config_.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  std::ofstream(config_, std::ios::app) << "[bogus]\n";
  auto bad = supportd({"check-config", "--config", config_.string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("bogus"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace supportd::test
