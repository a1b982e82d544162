// The offline commands through the real binary, no mail servers: check-config's template link
// check and replay's tables.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "process.hpp"

namespace supportd::test {
namespace {

namespace fs = std::filesystem;

// Columns a line takes in a terminal, for the text of these tests: ASCII 1, CJK (3-byte UTF-8
// from U+3000 to U+9FFF) 2. Independent of the binary's own ICU-based count on purpose.
std::size_t columns(std::string_view s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++w;
      ++i;
    } else if (b >= 0xE3 && b <= 0xE9) {
      w += 2;
      i += 3;
    } else {
      ++w;
      i += b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    }
  }
  return w;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class Commands : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("supportd-commands-" + std::to_string(rd()));
    fs::create_directories(dir_);
    fs::copy(fs::path(SUPPORTD_SOURCE_DIR) / "templates", dir_ / "templates",
             fs::copy_options::recursive);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // A loopback config (nothing connects) around the copied templates.
  fs::path write_config(const std::string& templates_extra) {
    const fs::path config = dir_ / "supportd.toml";
    std::ofstream(config) << "[imap]\nurl = \"imap://127.0.0.1:1/INBOX\"\n"
                          << "[smtp]\nurl = \"smtp://127.0.0.1:1\"\n"
                          << "[reply]\nfrom = \"OKPay Support <support@okpay-wallet.example>\"\n"
                          << "[store]\npath = \"state/supportd.db\"\n"
                          << "[classifier]\nrules = \"" << SUPPORTD_SOURCE_DIR
                          << "/config/categories.toml\"\n"
                          << "[templates]\ndir = \"templates\"\n"
                          << templates_extra;
    return config;
  }

  // Appends a line to en/refund.mustache; returns its line number.
  int add_to_refund(const std::string& line) {
    const fs::path file = dir_ / "templates" / "en" / "refund.mustache";
    std::string text;
    {
      std::ifstream in(file);
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    if (!text.ends_with('\n')) text += '\n';
    text += line + "\n";
    std::ofstream(file, std::ios::trunc) << text;
    return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
  }

  run_result supportd(std::vector<std::string> args) {
    args.insert(args.begin(), SUPPORTD_BINARY);
    return run(args, (dir_ / ("cmd" + std::to_string(++runs_) + ".log")).string());
  }

  fs::path dir_;
  int runs_ = 0;
};

TEST_F(Commands, CheckConfigPassesTheShippedTemplatesWithTheShippedList) {
  const auto config = write_config("link_domains = [\"okpay-wallet.example\"]\n");
  auto r = supportd({"check-config", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("linking to okpay-wallet.example and their subdomains"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
}

TEST_F(Commands, CheckConfigRefusesALinkOutsideTheListWithFileAndLine) {
  const auto config = write_config("link_domains = [\"okpay-wallet.example\"]\n");
  const int line = add_to_refund("Confirm at https://okpay-wallet.example@evil.com/refund.");
  auto r = supportd({"check-config", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  const std::string where =
      (dir_ / "templates" / "en" / "refund.mustache").string() + ":" + std::to_string(line) + ": ";
  EXPECT_NE(r.out.find(where + "link to host evil.com is outside [templates] link_domains: "
                               "https://okpay-wallet.example@evil.com/refund"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("config ok"), std::string::npos) << r.out;
}

TEST_F(Commands, WithoutTheListOffDomainLinksAreWarnings) {
  const auto config = write_config("");
  const int line = add_to_refund("See www.evil.example/refund");
  auto r = supportd({"check-config", "--config", config.string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(
      r.out.find("supportd: warning: " + (dir_ / "templates" / "en" / "refund.mustache").string() +
                 ":" + std::to_string(line) + ": link to host www.evil.example is outside"),
      std::string::npos)
      << r.out;
}

TEST_F(Commands, ReplayPrintsAlignedTablesAndASummary) {
  const auto config = write_config("link_domains = [\"okpay-wallet.example\"]\n");
  auto r = supportd(
      {"replay", "--config", config.string(), std::string(SUPPORTD_TEST_DATA) + "/daemon"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_GE(lines.size(), 8u) << r.out;
  ASSERT_TRUE(lines[0].starts_with("MESSAGE")) << r.out;
  const auto at = [](const std::string& line, const std::string& word) {
    const auto pos = line.find(word);
    EXPECT_NE(pos, std::string::npos) << word << " not in: " << line;
    return pos == std::string::npos ? 0 : columns(std::string_view(line).substr(0, pos));
  };
  const std::size_t decision = at(lines[0], "DECISION");
  const std::size_t conf = at(lines[0], "CONF");
  int chinese = 0;
  for (std::size_t i = 1; i <= 7; ++i) {
    const std::string& l = lines[i];
    const bool replies = l.find(" auto_reply ") != std::string::npos;
    EXPECT_EQ(at(l, replies ? "auto_reply" : "suppress"), decision) << l;
    EXPECT_EQ(at(l, "0."), conf) << l;  // CONF is right-aligned, every value "0.nn"
    if (columns(l) != l.size()) ++chinese;
  }
  EXPECT_EQ(chinese, 2) << r.out;  // the GB2312 and Big5 subjects, decoded
  EXPECT_NE(r.out.find("zh/payment_failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mailing-list: List-Id present"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Summary: 7 messages"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("auto_reply         3    43%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("suppress           4    57%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CATEGORY          en  zh  ALL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all                5   2    7"), std::string::npos) << r.out;
}

TEST_F(Commands, ReplayJsonIsOneObjectPerMessage) {
  const auto config = write_config("");
  auto r = supportd({"replay", "--json", "--config", config.string(),
                     std::string(SUPPORTD_TEST_DATA) + "/daemon"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 7u) << r.out;
  for (const auto& l : lines) {
    const auto j = nlohmann::json::parse(l);
    for (const char* key : {"message", "from", "subject", "decision", "reason", "category",
                            "confidence", "language", "template", "ticket"})
      EXPECT_TRUE(j.contains(key)) << key << " missing in " << l;
    if (j["message"] == "customer_zh_gb2312.eml") {
      EXPECT_EQ(j["decision"], "auto_reply");
      EXPECT_TRUE(j["template"].get<std::string>().starts_with("zh/payment_failed@"));
      EXPECT_EQ(j["subject"], "支付失败");
    }
  }
}

}  // namespace
}  // namespace supportd::test
