#include "supportd/daemon/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "test_support.hpp"

namespace supportd::daemon {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& text) {
    auto p = dir_.path / "supportd.toml";
    std::ofstream(p) << text;
    return p;
  }
  test::scratch_dir dir_;
};

const std::string minimal = R"(
[imap]
url = "imap://127.0.0.1:1143/INBOX"
[smtp]
url = "smtp://127.0.0.1:2525"
[reply]
from = "OKPay Support <Support@OKPay-Wallet.example>"
[store]
path = "state/supportd.db"
)";

TEST_F(ConfigTest, MinimalLoopbackConfig) {
  auto s = load_settings(write(minimal));
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->reply.from.address, "support@okpay-wallet.example");
  EXPECT_EQ(s->reply.addresses, std::vector<std::string>{"support@okpay-wallet.example"});
  EXPECT_EQ(s->reply.message_id_domain, "okpay-wallet.example");
  EXPECT_EQ(s->store_path, dir_.path / "state/supportd.db");
  EXPECT_EQ(s->imap.poll_interval.count(), 30);
}

TEST_F(ConfigTest, PasswordFromFileAndEnvironment) {
  std::ofstream(dir_.path / "imap.secret") << "s3cret\n";
  ::setenv("SUPPORTD_TEST_SMTP_PW", "pw2", 1);
  std::string text = minimal;
  text.replace(text.find("[smtp]"), 6, "password_file = \"imap.secret\"\n[smtp]");
  text.replace(text.find("[reply]"), 7, "password_env = \"SUPPORTD_TEST_SMTP_PW\"\n[reply]");
  auto s = load_settings(write(text));
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->imap.endpoint.password, "s3cret");
  EXPECT_EQ(s->smtp.endpoint.password, "pw2");
}

TEST_F(ConfigTest, ErrorsNameTheLine) {
  auto s = load_settings(write(minimal + "[imap2]\nx = 1\n"));
  ASSERT_FALSE(s);
  EXPECT_GT(s.error().line, 0);
  EXPECT_NE(s.error().message.find("imap2"), std::string::npos);
  auto broken = load_settings(write("[imap\nurl = 3"));
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().line, 1);
  auto bad_type = load_settings(write(minimal + "[log]\nlevel = 3\n"));
  ASSERT_FALSE(bad_type);
  EXPECT_NE(bad_type.error().to_string().find(":11:"), std::string::npos)
      << bad_type.error().to_string();
}

TEST_F(ConfigTest, UnknownKeyIsATypo) {
  std::string text = minimal;
  text.replace(text.find("[smtp]"), 6, "pol_seconds = 5\n[smtp]");
  auto s = load_settings(write(text));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().line, 4);
  EXPECT_NE(s.error().message.find("pol_seconds"), std::string::npos);
}

TEST_F(ConfigTest, SafetyLimits) {
  auto s = load_settings(write(minimal + "enabled = false\nrepeat_window_hours = 48\n"
                                         "max_per_recipient_per_day = 2\nmax_per_minute = 10\n"));
  ASSERT_FALSE(s) << "keys after [store] belong to [store]";
  std::string text = minimal;
  text.replace(text.find("[store]"), 7,
               "enabled = false\nrepeat_window_hours = 48\nmax_per_recipient_per_day = 2\n"
               "max_per_minute = 10\n[store]");
  auto ok = load_settings(write(text));
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_FALSE(ok->reply.enabled);
  EXPECT_EQ(ok->reply.repeat_window.count(), 48);
  EXPECT_EQ(ok->reply.max_per_recipient_per_day, 2);
  EXPECT_EQ(ok->reply.max_per_minute, 10);
  EXPECT_EQ(ok->smtp.retry_base.count(), 30);
}

TEST_F(ConfigTest, SmtpConnections) {
  auto s = load_settings(write(minimal));
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->smtp.connections, 1);
  std::string text = minimal;
  text.replace(text.find("[reply]"), 7, "connections = 4\n[reply]");
  auto four = load_settings(write(text));
  ASSERT_TRUE(four) << four.error().to_string();
  EXPECT_EQ(four->smtp.connections, 4);
  text = minimal;
  text.replace(text.find("[reply]"), 7, "connections = 0\n[reply]");
  auto none = load_settings(write(text));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().to_string().find("'connections' must be between 1 and 8"),
            std::string::npos)
      << none.error().to_string();
}

TEST_F(ConfigTest, FollowUpDeadlinesPerCategory) {
  auto s = load_settings(write(minimal + "[followup]\ndeadline_hours = 8\ndigest_to = "
                                         "\"agents@okpay-wallet.example\"\n"
                                         "[followup.deadlines]\naccount_compromised = 2\n"));
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->followup.deadline_for("account_compromised").count(), 2);
  EXPECT_EQ(s->followup.deadline_for("refund").count(), 8);
  EXPECT_EQ(s->followup.digest_to, "agents@okpay-wallet.example");
  auto bad = load_settings(write(minimal + "[followup.deadlines]\nrefund = 0\n"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("refund"), std::string::npos);
}

TEST_F(ConfigTest, ClearTextToRemoteHostIsRefused) {
  std::string text = minimal;
  text.replace(text.find("imap://127.0.0.1:1143"), 21, "imap://mail.example.com");
  text.replace(text.find("[imap]\n") + 7, 0, "starttls = false\n");
  auto s = load_settings(write(text));
  ASSERT_FALSE(s);
  std::string allowed = text;
  allowed.replace(allowed.find("[imap]\n") + 7, 0, "allow_plaintext = true\n");
  EXPECT_TRUE(load_settings(write(allowed)));
}

TEST_F(ConfigTest, MissingPasswordFileIsAnError) {
  std::string text = minimal;
  text.replace(text.find("[smtp]"), 6, "password_file = \"nope.secret\"\n[smtp]");
  auto s = load_settings(write(text));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("nope.secret"), std::string::npos);
}

TEST_F(ConfigTest, ShippedExampleParses) {
  // The example points at real hosts with secrets we do not have: only syntax is checked here.
  ::setenv("CREDENTIALS_DIRECTORY", dir_.path.c_str(), 1);
  std::ofstream(dir_.path / "imap.secret") << "x";
  std::ofstream(dir_.path / "smtp.secret") << "y";
  auto s = load_settings(std::string(SUPPORTD_SOURCE_DIR) + "/config/supportd.example.toml");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->imap.endpoint.password, "x");
  EXPECT_EQ(s->link_domains, std::vector<std::string>{"okpay-wallet.example"});
}

TEST_F(ConfigTest, LinkDomains) {
  auto unset = load_settings(write(minimal));
  ASSERT_TRUE(unset) << unset.error().to_string();
  EXPECT_FALSE(unset->link_domains.has_value());

  auto set = load_settings(write(
      minimal + "[templates]\nlink_domains = [\"OKPay-Wallet.example\", \"help.example.org\"]\n"));
  ASSERT_TRUE(set) << set.error().to_string();
  EXPECT_EQ(set->link_domains,
            (std::vector<std::string>{"okpay-wallet.example", "help.example.org"}));

  auto empty = load_settings(write(minimal + "[templates]\nlink_domains = []\n"));
  ASSERT_TRUE(empty) << empty.error().to_string();
  EXPECT_EQ(empty->link_domains, std::vector<std::string>{});

  for (const char* bad : {"\"*.okpay-wallet.example\"", "\"https://okpay-wallet.example/\"", "\"\"",
                          "\".example\"", "\"a..b\"", "3"}) {
    auto s = load_settings(write(minimal + "[templates]\nlink_domains = [" + bad + "]\n"));
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().line, 11) << bad;
  }
  auto not_list = load_settings(write(minimal + "[templates]\nlink_domains = \"example.com\"\n"));
  ASSERT_FALSE(not_list);
  EXPECT_NE(not_list.error().message.find("list"), std::string::npos);
}

}  // namespace
}  // namespace supportd::daemon
