#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "shipped_categories.hpp"
#include "supportd/reply/templates.hpp"

namespace fs = std::filesystem;
using supportd::reply::reply_vars;
using supportd::reply::template_error;
using supportd::reply::template_set;

namespace {

const std::vector<std::string>& all_categories = supportd::test::shipped_categories;

const std::vector<std::string> escalating{"account_compromised", "account_frozen", "complaint",
                                          "support_followup"};

fs::path shipped_dir() { return fs::path(SUPPORTD_SOURCE_DIR) / "templates"; }

reply_vars chinese_vars(const std::string& category, const std::string& language) {
  reply_vars v;
  v.customer_name = "<张三 & 李四>";
  v.subject = "提现三天未到账 \"急\" & <help>";
  v.ticket = "OK-20261122-000042";
  v.category = category;
  v.language = language;
  v.support_address = "support@okpay-wallet.example";
  return v;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// A scratch template directory, removed when the test ends.
class scratch_dir {
 public:
  scratch_dir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("supportd-reply-test-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  void write(const std::string& rel, const std::string& content) const {
    const fs::path p = path_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary);
    out << content;
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string find_error_for(const std::vector<template_error>& errors, const std::string& file_end) {
  for (const auto& e : errors) {
    if (e.file.ends_with(file_end)) return e.message;
  }
  return {};
}

}  // namespace

TEST(ReplyTemplates, EveryShippedTemplateLoads) {
  const auto set = template_set::load(shipped_dir(), all_categories);
  if (!set) {
    for (const auto& e : set.error()) ADD_FAILURE() << e.file << ": " << e.message;
  }
  ASSERT_TRUE(set.has_value());
}

TEST(ReplyTemplates, EveryShippedTemplateRendersPlainTextWithChineseValues) {
  const auto set = template_set::load(shipped_dir(), all_categories);
  ASSERT_TRUE(set.has_value());
  int rendered = 0;
  for (const std::string lang : {"zh", "en"}) {
    for (const auto& cat : all_categories) {
      SCOPED_TRACE(lang + "/" + cat);
      const auto r = (*set)->render(cat, lang, chinese_vars(cat, lang));
      ASSERT_TRUE(r.has_value()) << r.error().file << ": " << r.error().message;
      const std::string& body = r->body;
      std::string one_line = body;  // sentences wrap across lines
      std::replace(one_line.begin(), one_line.end(), '\n', ' ');
      EXPECT_EQ(r->template_name, lang + "/" + cat);
      EXPECT_EQ(r->template_version.size(), 12u);
      // Values verbatim: no HTML escaping anywhere.
      EXPECT_TRUE(contains(body, "<张三 & 李四>"));
      EXPECT_TRUE(contains(body, "提现三天未到账 \"急\" & <help>"));
      EXPECT_FALSE(contains(body, "&lt;"));
      EXPECT_FALSE(contains(body, "&amp;"));
      EXPECT_FALSE(contains(body, "&quot;"));
      EXPECT_TRUE(contains(body, "OK-20261122-000042"));
      EXPECT_TRUE(contains(body, "support@okpay-wallet.example"));
      EXPECT_FALSE(contains(body, "{{"));
      EXPECT_FALSE(contains(body, "\r"));
      // Security reminder and signature.
      if (lang == "zh") {
        EXPECT_TRUE(contains(body, "密码"));
        EXPECT_TRUE(contains(body, "银行卡号"));
        EXPECT_TRUE(contains(body, "验证码"));
        EXPECT_TRUE(contains(body, "助记词"));
        EXPECT_TRUE(contains(body, "OKPay 客服团队"));
      } else {
        EXPECT_TRUE(contains(body, "password"));
        EXPECT_TRUE(contains(body, "card number"));
        EXPECT_TRUE(contains(body, "verification codes"));
        EXPECT_TRUE(contains(body, "seed"));
        EXPECT_TRUE(contains(body, "OKPay Support"));
      }
      const bool escalates =
          std::find(escalating.begin(), escalating.end(), cat) != escalating.end();
      if (escalates) {
        EXPECT_TRUE(
            contains(one_line, lang == "zh" ? "与您单独联系" : "follow up with you personally"));
      }
      // Links only to our own domain.
      for (std::size_t pos = body.find("http"); pos != std::string::npos;
           pos = body.find("http", pos + 1)) {
        constexpr std::string_view ours = "https://www.okpay-wallet.example/";
        EXPECT_EQ(body.compare(pos, ours.size(), ours), 0) << body.substr(pos, 60);
      }
      // Lines stay readable in a mail client and far below the SMTP limit.
      std::size_t line_start = 0;
      while (line_start < body.size()) {
        std::size_t end = body.find('\n', line_start);
        if (end == std::string::npos) end = body.size();
        EXPECT_LE(end - line_start, 200u) << body.substr(line_start, end - line_start);
        line_start = end + 1;
      }
      ++rendered;
    }
  }
  EXPECT_EQ(rendered, 26);
}

TEST(ReplyTemplates, EmptyNameGetsNeutralGreeting) {
  const auto set = template_set::load(shipped_dir(), all_categories);
  ASSERT_TRUE(set.has_value());
  auto vars = chinese_vars("general", "en");
  vars.customer_name.clear();
  const auto en = (*set)->render("general", "en", vars);
  ASSERT_TRUE(en.has_value());
  EXPECT_TRUE(en->body.starts_with("Hello,\n"));
  const auto zh = (*set)->render("general", "zh", vars);
  ASSERT_TRUE(zh.has_value());
  EXPECT_TRUE(zh->body.starts_with("您好：\n"));
}

TEST(ReplyTemplates, FallsBackToEnglishThenGeneral) {
  scratch_dir dir;
  dir.write("en/refund.mustache", "refund {{language}} {{category_name}}\n");
  dir.write("en/general.mustache", "general {{category}}\n");
  dir.write("zh/general.mustache", "通用 {{category_name}}\n");
  const auto set = template_set::load(dir.path(), {"refund", "general"}, {"en"});
  ASSERT_TRUE(set.has_value());

  const auto fr = (*set)->render("refund", "fr", {});
  ASSERT_TRUE(fr.has_value());
  EXPECT_EQ(fr->template_name, "en/refund");
  EXPECT_EQ(fr->body, "refund en Refund\n");

  const auto unknown = (*set)->render("no_such_category", "en", {});
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->template_name, "en/general");
  EXPECT_EQ(unknown->body, "general no_such_category\n");
}

TEST(ReplyTemplates, CategoryNameFilledPerLanguage) {
  EXPECT_EQ(supportd::reply::default_category_name("withdrawal_delay", "zh"), "提现未到账");
  EXPECT_EQ(supportd::reply::default_category_name("withdrawal_delay", "en"), "Withdrawal delay");
  EXPECT_EQ(supportd::reply::default_category_name("other", "en"), "other");

  scratch_dir dir;
  dir.write("zh/fees.mustache", "{{category_name}}|{{category}}\n");
  const auto set = template_set::load(dir.path(), {"fees"}, {"zh"});
  ASSERT_TRUE(set.has_value());
  reply_vars v;
  v.category = "fees";
  EXPECT_EQ((*set)->render("fees", "zh", v)->body, "手续费|fees\n");
  v.category_name = "自定义";
  EXPECT_EQ((*set)->render("fees", "zh", v)->body, "自定义|fees\n");
}

TEST(ReplyTemplates, LineEndingsNormalisedAndValuesKeptOnOneLine) {
  scratch_dir dir;
  dir.write("en/general.mustache", "a\r\nb\rc\n{{subject}}\n");
  const auto set = template_set::load(dir.path(), {"general"}, {"en"});
  ASSERT_TRUE(set.has_value());
  reply_vars v;
  v.subject = std::string("x\r\ny\tz\0w", 8);
  v.subject += "\x7f!";
  EXPECT_EQ((*set)->render("general", "en", v)->body, "a\nb\nc\nx y z w !\n");
}

TEST(ReplyTemplates, VersionIsContentHash) {
  scratch_dir a;
  a.write("en/general.mustache", "one\n");
  scratch_dir b;
  b.write("en/general.mustache", "two\n");
  const auto sa = template_set::load(a.path(), {"general"}, {"en"});
  const auto sb = template_set::load(b.path(), {"general"}, {"en"});
  ASSERT_TRUE(sa && sb);
  const auto va = (*sa)->render("general", "en", {})->template_version;
  const auto vb = (*sb)->render("general", "en", {})->template_version;
  EXPECT_NE(va, vb);
  EXPECT_EQ(va.size(), 12u);
  EXPECT_TRUE(std::all_of(va.begin(), va.end(),
                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
}

TEST(ReplyTemplates, MissingTemplateNamesFile) {
  scratch_dir dir;
  dir.write("en/general.mustache", "hello\n");
  dir.write("zh/general.mustache", "你好\n");
  dir.write("en/refund.mustache", "refund\n");
  const auto set = template_set::load(dir.path(), {"general", "refund"});
  ASSERT_FALSE(set.has_value());
  ASSERT_EQ(set.error().size(), 1u);
  EXPECT_TRUE(set.error()[0].file.ends_with("zh/refund.mustache")) << set.error()[0].file;
  EXPECT_TRUE(contains(set.error()[0].message, "missing"));
}

TEST(ReplyTemplates, MissingDirectoryReportsEveryPair) {
  const auto set = template_set::load("/nonexistent/supportd/templates", {"general", "fees"});
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().size(), 4u);
}

TEST(ReplyTemplates, SyntaxErrorNamesFileAndLine) {
  scratch_dir dir;
  dir.write("en/general.mustache", "Hello\n\n{{#customer_name}}Dear {{customer_name}}\nbye\n");
  dir.write("en/fees.mustache", "line1\nline2 {{subject\n");
  const auto set = template_set::load(dir.path(), {"general", "fees"}, {"en"});
  ASSERT_FALSE(set.has_value());
  ASSERT_EQ(set.error().size(), 2u);
  const auto unclosed_section = find_error_for(set.error(), "en/general.mustache");
  EXPECT_TRUE(contains(unclosed_section, "line 3")) << unclosed_section;
  EXPECT_TRUE(contains(unclosed_section, "Unclosed section")) << unclosed_section;
  const auto unclosed_tag = find_error_for(set.error(), "en/fees.mustache");
  EXPECT_TRUE(contains(unclosed_tag, "line 2")) << unclosed_tag;
  EXPECT_TRUE(contains(unclosed_tag, "Unclosed tag")) << unclosed_tag;
}

TEST(ReplyTemplates, UnknownVariablesNameFileAndLine) {
  scratch_dir dir;
  dir.write("en/general.mustache", "Hello {{customer_name}}\n\nYour {{password}} please\n");
  dir.write("en/fees.mustache", "{{{raw_html}}}\n");
  dir.write("en/refund.mustache", "ok\n{{& amount }}\n");
  dir.write("en/complaint.mustache", "a\nb\n{{#vip}}x{{/vip}}\n");
  dir.write("en/registration.mustache", "{{^ticket_id}}none{{/ticket_id}}\n");
  dir.write("en/password_reset.mustache", "{{> footer}}\n");
  const auto set = template_set::load(
      dir.path(), {"general", "fees", "refund", "complaint", "registration", "password_reset"},
      {"en"});
  ASSERT_FALSE(set.has_value());
  EXPECT_EQ(set.error().size(), 6u);
  const auto general = find_error_for(set.error(), "en/general.mustache");
  EXPECT_TRUE(contains(general, "line 3")) << general;
  EXPECT_TRUE(contains(general, "\"password\"")) << general;
  EXPECT_TRUE(contains(find_error_for(set.error(), "en/fees.mustache"), "\"raw_html\""));
  EXPECT_TRUE(contains(find_error_for(set.error(), "en/refund.mustache"), "line 2"));
  EXPECT_TRUE(contains(find_error_for(set.error(), "en/refund.mustache"), "\"amount\""));
  EXPECT_TRUE(contains(find_error_for(set.error(), "en/complaint.mustache"), "line 3"));
  EXPECT_TRUE(contains(find_error_for(set.error(), "en/registration.mustache"), "\"ticket_id\""));
  EXPECT_TRUE(contains(find_error_for(set.error(), "en/password_reset.mustache"), "partial"));
}

TEST(ReplyTemplates, KnownTagFormsAndDelimiterChangeAccepted) {
  scratch_dir dir;
  dir.write("en/general.mustache",
            "{{! a comment }}{{{subject}}} {{&ticket}} {{ language }}\n"
            "{{=<% %>=}}<% customer_name %> {{not_a_tag}}\n<%={{ }}=%>{{support_address}}\n");
  const auto set = template_set::load(dir.path(), {"general"}, {"en"});
  ASSERT_TRUE(set.has_value()) << set.error()[0].message;
  reply_vars v;
  v.subject = "S&";
  v.ticket = "T<";
  v.language = "en";
  v.customer_name = "N";
  v.support_address = "A";
  EXPECT_EQ((*set)->render("general", "en", v)->body, "S& T< en\nN {{not_a_tag}}\nA\n");
}

TEST(ReplyTemplates, RejectsInvalidUtf8) {
  scratch_dir dir;
  dir.write("en/general.mustache", "caf\xe9\n");
  const auto set = template_set::load(dir.path(), {"general"}, {"en"});
  ASSERT_FALSE(set.has_value());
  EXPECT_TRUE(contains(set.error()[0].message, "UTF-8"));
}

TEST(ReplyTemplates, ConcurrentRendersAgree) {
  const auto set = template_set::load(shipped_dir(), all_categories);
  ASSERT_TRUE(set.has_value());
  const auto expected = (*set)->render("refund", "zh", chinese_vars("refund", "zh"));
  ASSERT_TRUE(expected.has_value());
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        const auto r = (*set)->render("refund", "zh", chinese_vars("refund", "zh"));
        if (!r || r->body != expected->body) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}
