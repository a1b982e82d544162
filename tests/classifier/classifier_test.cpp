#include "supportd/classifier/classifier.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace supportd::classifier {
namespace {

const rules& default_rules() {
  static const std::shared_ptr<const rules> loaded = [] {
    auto r = rules::load(std::filesystem::path(SUPPORTD_SOURCE_DIR) / "config" / "categories.toml");
    if (!r) throw std::runtime_error(r.error().to_string());
    return *r;
  }();
  return *loaded;
}

std::shared_ptr<const rules> parse_or_die(std::string_view text) {
  auto r = rules::parse(text, "test.toml");
  if (!r) throw std::runtime_error(r.error().to_string());
  return *r;
}

// Two single-keyword categories: small enough to reason about scores exactly.
constexpr std::string_view two_categories = R"(
[settings]
min_confidence = 0.2
subject_weight = 2.0
half_confidence_score = 1.0
max_repeats = 2

[[category]]
id = "alpha"
name = { zh = "甲", en = "Alpha" }
en = ["fee", { text = "charge", weight = 0.5 }]
zh = ["手续费"]

[[category]]
id = "beta"
name = { zh = "乙", en = "Beta" }
escalate = true
en = ["refund"]
zh = ["退款", { text = "支付密码", weight = 2 }]

[[category]]
id = "gamma"
name = { zh = "丙", en = "Gamma" }
zh = ["支付"]

[[category]]
id = "general"
name = { zh = "一般", en = "General" }
)";

// --- normalize -------------------------------------------------------------------------

TEST(classifier_normalize, full_width_becomes_ascii_and_case_folds) {
  EXPECT_EQ(normalize("ＡＢＣ１２３"), "abc123");
  EXPECT_EQ(normalize("HeLLo WORLD"), "hello world");
  EXPECT_EQ(normalize("Straße"), "strasse");
  EXPECT_EQ(normalize("手续费："), "手续费:");
}

TEST(classifier_normalize, traditional_becomes_simplified) {
  EXPECT_EQ(normalize("帳戶被凍結"), "账户被冻结");
  EXPECT_EQ(normalize("忘記密碼"), "忘记密码");
  EXPECT_EQ(normalize("提現未到賬"), "提现未到账");
  EXPECT_EQ(normalize("入帳 帐号"), "入账 账号");  // 帐/账 variants fold together
  EXPECT_EQ(normalize("已经是简体"), "已经是简体");
}

TEST(classifier_normalize, folds_space_dashes_and_quotes) {
  EXPECT_EQ(normalize("  top-up \t\r\n now  "), "top up now");
  EXPECT_EQ(normalize("can’t　log in"), "can't log in");  // U+2019, U+3000
  EXPECT_EQ(normalize("cash–out"), "cash out");           // en dash
}

TEST(classifier_normalize, survives_invalid_utf8) {
  const std::string bad = "abc\xff\xfe\xc3";
  EXPECT_NO_THROW({
    auto s = normalize(bad);
    EXPECT_TRUE(s.starts_with("abc"));
  });
  EXPECT_EQ(normalize(""), "");
}

// --- detect_language -----------------------------------------------------------------------

TEST(classifier_detect_language, chinese_english_and_mixed) {
  EXPECT_EQ(detect_language("提现没到账", "请帮我查一下。"), "zh");
  EXPECT_EQ(detect_language("提款未入帳", "請幫忙查詢，謝謝。"), "zh");
  EXPECT_EQ(detect_language("Refund", "Please refund my order."), "en");
  EXPECT_EQ(detect_language("", ""), "en");
  // Chinese customers mixing English words are still answered in Chinese.
  EXPECT_EQ(detect_language("top up 没到账",
                            "我用 debit card top up 了，balance 没变，please check 一下"),
            "zh");
  // One Chinese name in an English signature does not make the mail Chinese.
  EXPECT_EQ(detect_language("Withdrawal pending",
                            "Hello, my withdrawal has been pending for five days, can you check "
                            "what is holding it up? Thanks, 王"),
            "en");
}

// --- the default rules against hand-written samples ---------------------------------------

struct sample {
  std::string category;
  std::string lang;
  std::string subject;
  std::string body;
};

// Readable test names in ctest instead of a byte dump.
void PrintTo(const sample& s, std::ostream* os) { *os << s.category << "/" << s.lang; }

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::vector<sample> load_samples() {
  std::vector<sample> out;
  std::ifstream in(std::string(SUPPORTD_TEST_DATA) + "/classifier/samples.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
      f.push_back(line.substr(start, tab - start));
    }
    f.push_back(line.substr(start));
    if (f.size() == 4) out.push_back({f[0], f[1], unescape(f[2]), unescape(f[3])});
  }
  return out;
}

class classifier_default_rules_sample : public testing::TestWithParam<sample> {};

TEST_P(classifier_default_rules_sample, gets_its_category) {
  const sample& s = GetParam();
  const classification c = classify(default_rules(), s.subject, s.body);
  EXPECT_EQ(c.category, s.category) << s.subject << " / " << s.body;
  EXPECT_EQ(c.language, s.lang == "en" ? "en" : "zh");
  EXPECT_GE(c.confidence, 0.0);
  EXPECT_LE(c.confidence, 1.0);
  if (s.category != "general") {
    EXPECT_FALSE(c.low_confidence);
    EXPECT_FALSE(c.keywords.empty());
    EXPECT_EQ(c.escalate, default_rules().escalates(s.category));
  }
}

INSTANTIATE_TEST_SUITE_P(samples, classifier_default_rules_sample,
                         testing::ValuesIn(load_samples()),
                         [](const testing::TestParamInfo<sample>& param_info) {
                           std::string name =
                               param_info.param.category + "_" + param_info.param.lang;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

TEST(classifier_default_rules, sample_file_covers_every_category_in_three_languages) {
  const auto samples = load_samples();
  for (const std::string& id : default_rules().categories()) {
    for (const char* lang : {"zh", "zh-hant", "en"}) {
      const bool found = std::any_of(samples.begin(), samples.end(), [&](const sample& s) {
        return s.category == id && s.lang == lang;
      });
      EXPECT_TRUE(found) << id << " " << lang;
    }
  }
}

TEST(classifier_default_rules, contains_the_taxonomy) {
  const auto& ids = default_rules().categories();
  for (const char* id :
       {"account_compromised", "password_reset", "account_frozen", "payment_failed",
        "withdrawal_delay", "deposit_issue", "refund", "registration", "fees",
        "transaction_history", "complaint", "support_followup", "general"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
  EXPECT_TRUE(default_rules().escalates("account_compromised"));
  EXPECT_TRUE(default_rules().escalates("complaint"));
  EXPECT_FALSE(default_rules().escalates("refund"));
  EXPECT_EQ(default_rules().display_name("refund", "zh"), "退款");
  EXPECT_EQ(default_rules().display_name("refund", "en"), "Refund");
}

// Context the domain needs, expressed in the default rules rather than code.
TEST(classifier_default_rules, context_decides) {
  const rules& r = default_rules();
  // A legal threat outweighs the frozen-account words around it.
  EXPECT_EQ(classify(r, "账户冻结", "冻结了一个月还不解冻，我已经联系律师，准备起诉。").category,
            "complaint");
  // A forgotten payment PIN is a password problem, not a failed payment.
  EXPECT_EQ(classify(r, "支付密码", "忘记支付密码了，付款时一直提示错误。").category,
            "password_reset");
  // A question about the withdrawal fee is a fee question.
  EXPECT_EQ(classify(r, "提现手续费", "请问提现要收多少手续费？").category, "fees");
  // "Not arrived" goes with whatever was sent: a top-up or a withdrawal.
  EXPECT_EQ(classify(r, "", "充值500元，一直未到账").category, "deposit_issue");
  EXPECT_EQ(classify(r, "", "提现500元，一直未到账").category, "withdrawal_delay");
  // In a reply the old subject matters less than what the customer writes now.
  EXPECT_EQ(classify(r, "Re: 充值未到账", "已经好几天了，一直没有回复，请人工客服处理。").category,
            "support_followup");
}

// --- scoring ----------------------------------------------------------------------------------

TEST(classifier_classify, subject_beats_body) {
  const auto r = parse_or_die(two_categories);
  EXPECT_EQ(classify(*r, "fee", "refund").category, "alpha");
  EXPECT_EQ(classify(*r, "refund", "fee").category, "beta");
  const classification c = classify(*r, "refund", "fee");
  ASSERT_FALSE(c.keywords.empty());
  EXPECT_EQ(c.keywords.front().where, "subject");
  EXPECT_DOUBLE_EQ(c.keywords.front().weight, 2.0);
}

TEST(classifier_classify, low_confidence_falls_back_to_general_and_escalates) {
  const classification none = classify(default_rules(), "hello", "is anybody there?");
  EXPECT_EQ(none.category, "general");
  EXPECT_TRUE(none.low_confidence);
  EXPECT_TRUE(none.escalate);
  EXPECT_DOUBLE_EQ(none.confidence, 0.0);

  // A tie between two categories is too unsure to act on.
  const auto strict =
      parse_or_die(std::string(two_categories).replace(two_categories.find("0.2"), 3, "0.5"));
  const classification tie = classify(*strict, "", "fee refund");
  EXPECT_EQ(tie.category, "general");
  EXPECT_TRUE(tie.low_confidence);
  EXPECT_TRUE(tie.escalate);
  EXPECT_LT(tie.confidence, 0.5);
}

TEST(classifier_classify, escalates_when_the_category_does) {
  const auto r = parse_or_die(two_categories);
  const classification beta = classify(*r, "refund please", "");
  EXPECT_EQ(beta.category, "beta");
  EXPECT_TRUE(beta.escalate);
  EXPECT_FALSE(beta.low_confidence);
  const classification alpha = classify(*r, "fee question", "");
  EXPECT_FALSE(alpha.escalate);
}

TEST(classifier_classify, keywords_are_the_winners_hits_strongest_first) {
  const auto r = parse_or_die(two_categories);
  const classification c = classify(*r, "charge", "fee fee fee fee 退款");
  EXPECT_EQ(c.category, "alpha");
  ASSERT_EQ(c.keywords.size(), 2u);
  // Four repeats of "fee" are capped at max_repeats = 2.
  EXPECT_EQ(c.keywords[0].keyword, "fee");
  EXPECT_DOUBLE_EQ(c.keywords[0].weight, 2.0);
  EXPECT_EQ(c.keywords[1].keyword, "charge");
  EXPECT_EQ(c.keywords[1].where, "subject");
}

TEST(classifier_classify, english_keywords_match_whole_words_with_plain_suffixes) {
  const auto r = parse_or_die(two_categories);
  EXPECT_EQ(classify(*r, "", "I feel fine").category, "general");
  EXPECT_EQ(classify(*r, "", "coffee time").category, "general");
  EXPECT_EQ(classify(*r, "", "what are the fees?").category, "alpha");
  EXPECT_EQ(classify(*r, "", "I was charged twice").category, "alpha");
  EXPECT_EQ(classify(*r, "", "FEE.").category, "alpha");
  EXPECT_EQ(classify(*r, "", "refunded").category, "beta");
  EXPECT_EQ(classify(*r, "", "refundable? no").category, "general");
  EXPECT_EQ(classify(*r, "", "我要refund谢谢").category, "beta");  // Han text is a boundary
}

TEST(classifier_classify, chinese_keywords_match_inside_text_in_either_script) {
  const auto r = parse_or_die(two_categories);
  EXPECT_EQ(classify(*r, "", "请问提现要多少手续费").category, "alpha");
  EXPECT_EQ(classify(*r, "", "請問提現要多少手續費").category, "alpha");  // Traditional text
  const auto trad = parse_or_die(R"(
[[category]]
id = "refund"
name = { zh = "退款", en = "Refund" }
zh_hant = [{ text = "退還款項", weight = 3 }]
[[category]]
id = "general"
name = { zh = "一般", en = "General" }
)");
  EXPECT_EQ(classify(*trad, "", "请尽快退还款项").category, "refund");  // Traditional keyword
}

TEST(classifier_classify, longer_keyword_hides_the_shorter_one_inside_it) {
  const auto r = parse_or_die(two_categories);
  const classification c = classify(*r, "", "我忘了支付密码");
  EXPECT_EQ(c.category, "beta");
  ASSERT_EQ(c.keywords.size(), 1u);
  EXPECT_EQ(c.keywords[0].keyword, "支付密码");
  EXPECT_EQ(classify(*r, "", "支付不了").category, "gamma");
}

TEST(classifier_classify, empty_and_huge_input) {
  const classification empty = classify(default_rules(), "", "");
  EXPECT_EQ(empty.category, "general");
  EXPECT_TRUE(empty.low_confidence);
  std::string big;
  for (int i = 0; i < 20000; ++i) big += "提现 withdrawal ";
  const classification c = classify(default_rules(), "", big);
  EXPECT_EQ(c.category, "withdrawal_delay");
  EXPECT_LE(c.confidence, 1.0);
}

TEST(classifier_classify, is_safe_to_call_from_many_threads) {
  const auto samples = load_samples();
  std::vector<std::string> expected;
  for (const auto& s : samples)
    expected.push_back(classify(default_rules(), s.subject, s.body).category);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (std::size_t i = 0; i < samples.size(); ++i) {
          if (classify(default_rules(), samples[i].subject, samples[i].body).category !=
              expected[i]) {
            ++mismatches[static_cast<std::size_t>(t)];
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace supportd::classifier
