#include "supportd/daemon/table.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "supportd/daemon/replay.hpp"

namespace supportd::daemon {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Terminal column at which `needle` starts in `line`.
std::size_t column_of(const std::string& line, const std::string& needle) {
  const auto at = line.find(needle);
  EXPECT_NE(at, std::string::npos) << needle << " not in: " << line;
  return at == std::string::npos ? 0 : display_width(line.substr(0, at));
}

TEST(DisplayWidth, EastAsianWideTakesTwoColumns) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("提现未到账"), 10u);
  EXPECT_EQ(display_width("帳號 frozen"), 11u);
  EXPECT_EQ(display_width("ＡＢ"), 4u);  // fullwidth Latin
  EXPECT_EQ(display_width("ｶﾅ"), 2u);    // halfwidth katakana
  EXPECT_EQ(display_width("한국"), 4u);
  EXPECT_EQ(display_width("e\xCC\x81"), 1u);  // e + combining acute
  EXPECT_EQ(display_width("a\xE2\x80\x8B"
                          "b"),
            2u);                         // zero-width space
  EXPECT_EQ(display_width("\xFF"), 1u);  // invalid UTF-8 shows as U+FFFD
  EXPECT_EQ(display_width(""), 0u);
}

TEST(FitWidth, CutsByColumnsNotBytes) {
  EXPECT_EQ(fit_width("short", 10), "short");
  EXPECT_EQ(fit_width("Withdrawal has not arrived", 12), "Withdrawa...");
  // 7 columns of room: three wide characters (6), never half of one.
  EXPECT_EQ(fit_width("我的提现三天没有到账", 10), "我的提...");
  EXPECT_LE(display_width(fit_width("我的提现三天没有到账", 10)), 10u);
  EXPECT_EQ(fit_width("1700000000.M1P2.mail.example.com:2,S", 16, cut::middle), "1700000...om:2,S");
  EXPECT_EQ(fit_width("anything", 2), "..");
  EXPECT_EQ(fit_width("no limit at all", 0), "no limit at all");
}

TEST(FitWidth, MailCannotDrawOnTheTerminal) {
  EXPECT_EQ(fit_width("a\x1b[2Jb\tc\r\nd", 0), "a [2Jb c  d");
  EXPECT_EQ(fit_width("ab\xE2\x80\xAE"
                      "cd",
                      0),
            "abcd");  // right-to-left override dropped
  EXPECT_EQ(fit_width("x\xC3", 0), "x\xEF\xBF\xBD");
}

TEST(TextTable, ColumnsLineUpWithChinese) {
  text_table t({{"NAME"}, {"SUBJECT", 12}, {"N", 0, true}, {"LAST"}});
  t.add({"a", "提现未到账", "1", "x"});
  t.add({"bbbb", "refund please", "22", "y"});
  t.add({"c", "", "333", "z"});
  const auto lines = lines_of(t.render());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "NAME  SUBJECT         N  LAST");
  EXPECT_EQ(lines[1], "a     提现未到账      1  x");
  EXPECT_EQ(lines[2], "bbbb  refund pl...   22  y");
  EXPECT_EQ(lines[3], "c     -             333  z");
}

replay_row row(std::string message, std::string subject, std::string decision, std::string category,
               std::string language, std::string reason) {
  replay_row r;
  r.message = std::move(message);
  r.from = "someone@example.com";
  r.subject = std::move(subject);
  r.decision = std::move(decision);
  r.category = std::move(category);
  r.confidence = 0.8;
  r.language = std::move(language);
  r.reason = std::move(reason);
  return r;
}

TEST(ReplayRow, TemplateFromTheReason) {
  outcome o{"auto_reply", "category escalates; template zh/account_frozen@0123456789ab", 1,
            "OK-000001", 1};
  store::message_row in;
  in.from_address = "chen@example.org";
  in.subject = "帳號被凍結";
  in.category = "account_frozen";
  in.confidence = 0.79;
  in.language = "zh";
  const replay_row r = make_replay_row("frozen.eml", o, in);
  EXPECT_EQ(r.template_name, "zh/account_frozen");
  EXPECT_EQ(r.template_version, "0123456789ab");
  EXPECT_EQ(r.from, "chen@example.org");
  EXPECT_EQ(replay_verdict(r), "zh/account_frozen (category escalates)");

  const replay_row silent = make_replay_row(
      "bounce.eml", {"suppress", "auto-submitted: Auto-Submitted: auto-replied", 2, "", 2}, {});
  EXPECT_EQ(silent.template_name, "");
  EXPECT_EQ(replay_verdict(silent), "auto-submitted: Auto-Submitted: auto-replied");
}

TEST(ReplayTable, AlignedWithChineseSubjectsAndCut) {
  std::vector<replay_row> rows{
      row("customer_zh_gb2312.eml", "支付失败", "auto_reply", "payment_failed", "zh",
          "template zh/payment_failed@aaaaaaaaaaaa"),
      row("long.eml", "我的提现已经三天了还没有到账，请尽快帮我查一下怎么回事谢谢", "escalate",
          "withdrawal_delay", "zh", "customer wrote again in an answered thread"),
      row("en.eml", "Withdrawal to my bank account has not arrived after three days", "auto_reply",
          "withdrawal_delay", "en", "template en/withdrawal_delay@bbbbbbbbbbbb"),
      row("bounce.eml", "", "suppress", "general", "en",
          "auto-submitted: Auto-Submitted: auto-replied"),
  };
  rows[0].template_name = "zh/payment_failed";
  rows[2].template_name = "en/withdrawal_delay";
  const auto lines = lines_of(replay_table(rows));
  ASSERT_EQ(lines.size(), 5u);
  const std::vector<std::string> decisions{"DECISION", "auto_reply", "escalate", "auto_reply",
                                           "suppress"};
  const std::size_t column = column_of(lines[0], "DECISION");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    EXPECT_EQ(column_of(lines[i], decisions[i]), column) << lines[i];
    EXPECT_EQ(column_of(lines[i], "0.80"), column_of(lines[0], "CONF")) << lines[i];
  }
  // Long subjects are cut at a column, never inside a character.
  EXPECT_NE(lines[2].find("我的提现已经三天了还没有到账，请..."), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("Withdrawal to my bank account has..."), std::string::npos) << lines[3];
  EXPECT_NE(lines[1].find("zh/payment_failed"), std::string::npos);
  EXPECT_NE(lines[2].find("customer wrote again in an answered thread"), std::string::npos);
  EXPECT_NE(lines[4].find("bounce.eml"), std::string::npos);
}

TEST(ReplaySummary, CountsPerDecisionAndCategoryByLanguage) {
  const std::vector<replay_row> rows{
      row("1", "", "auto_reply", "refund", "en", ""),
      row("2", "", "auto_reply", "refund", "zh", ""),
      row("3", "", "auto_reply", "refund", "zh", ""),
      row("4", "", "suppress", "fees", "en", ""),
  };
  const std::string summary = replay_summary(rows);
  const auto lines = lines_of(summary);
  ASSERT_EQ(lines.size(), 11u) << summary;
  EXPECT_EQ(lines[0], "Summary: 4 messages");
  EXPECT_EQ(lines[2], "DECISION    MESSAGES  SHARE");
  EXPECT_EQ(lines[3], "auto_reply         3    75%");
  EXPECT_EQ(lines[4], "suppress           1    25%");
  EXPECT_EQ(lines[5], "all                4   100%");
  EXPECT_EQ(lines[7], "CATEGORY  en  zh  ALL");
  EXPECT_EQ(lines[8], "fees       1   0    1");
  EXPECT_EQ(lines[9], "refund     1   2    3");
  EXPECT_EQ(lines[10], "all        2   2    4");
}

}  // namespace
}  // namespace supportd::daemon
