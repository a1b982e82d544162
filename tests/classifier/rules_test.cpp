#include <gtest/gtest.h>

#include <string>

#include "supportd/classifier/classifier.hpp"

namespace supportd::classifier {
namespace {

constexpr std::string_view general_table = R"(
[[category]]
id = "general"
name = { zh = "一般", en = "General" }
)";

rules_error parse_error(std::string_view text) {
  auto r = rules::parse(text, "bad.toml");
  EXPECT_FALSE(r.has_value()) << "expected an error";
  return r ? rules_error{} : r.error();
}

TEST(classifier_rules, minimal_file_parses) {
  auto r = rules::parse(general_table);
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_EQ((*r)->categories(), std::vector<std::string>{"general"});
  EXPECT_FALSE((*r)->escalates("general"));
  EXPECT_EQ((*r)->display_name("general", "zh"), "一般");
  EXPECT_EQ((*r)->display_name("general", "zh-hant"), "一般");
  EXPECT_EQ((*r)->display_name("general", "en"), "General");
  EXPECT_EQ((*r)->display_name("no_such", "en"), "no_such");
  EXPECT_TRUE((*r)->escalates("no_such"));
}

TEST(classifier_rules, broken_toml_reports_line_and_column) {
  const rules_error e = parse_error("[settings]\nmin_confidence = 0.3\nsubject_weight = = 2\n");
  EXPECT_EQ(e.file, "bad.toml");
  EXPECT_EQ(e.line, 3);
  EXPECT_GT(e.column, 0);
  EXPECT_FALSE(e.message.empty());
  EXPECT_TRUE(e.to_string().starts_with("bad.toml:3:")) << e.to_string();
}

TEST(classifier_rules, unknown_category_key_reports_its_line) {
  const std::string text =
      std::string(general_table) +
      "\n[[category]]\nid = \"refund\"\nname = { zh = \"退款\", en = \"Refund\" }\n"
      "escalte = true\n";
  const rules_error e = parse_error(text);
  EXPECT_EQ(e.line, 9) << e.to_string();
  EXPECT_NE(e.message.find("escalte"), std::string::npos) << e.message;
}

TEST(classifier_rules, unknown_setting_reports_its_line) {
  const rules_error e =
      parse_error(std::string("[settings]\nmin_confidense = 0.3\n") + std::string(general_table));
  EXPECT_EQ(e.line, 2);
  EXPECT_NE(e.message.find("min_confidense"), std::string::npos);
}

TEST(classifier_rules, duplicated_category_reports_the_second_one) {
  const rules_error e = parse_error(std::string(general_table) + std::string(general_table));
  EXPECT_EQ(e.line, 7) << e.to_string();
  EXPECT_NE(e.message.find("twice"), std::string::npos);
}

TEST(classifier_rules, empty_keyword_reports_its_line) {
  const rules_error e = parse_error(std::string(general_table) + "zh = [\"谢谢\",\n  \"  \"]\n");
  EXPECT_EQ(e.line, 6) << e.to_string();
  EXPECT_NE(e.message.find("empty"), std::string::npos);
}

TEST(classifier_rules, semantic_errors_are_reported) {
  // No "general" category.
  EXPECT_NE(parse_error("[[category]]\nid = \"x\"\nname = { zh = \"x\", en = \"x\" }\n")
                .message.find("general"),
            std::string::npos);
  // Wrong types and values.
  EXPECT_EQ(parse_error("[settings]\nmin_confidence = 2\n" + std::string(general_table)).line, 2);
  EXPECT_EQ(parse_error("[settings]\nmax_repeats = 0.5\n" + std::string(general_table)).line, 2);
  EXPECT_EQ(parse_error(std::string(general_table) + "escalate = \"yes\"\n").line, 5);
  EXPECT_EQ(parse_error(std::string(general_table) + "en = [{ text = \"x\", weight = 0 }]\n").line,
            5);
  EXPECT_EQ(parse_error(std::string(general_table) + "en = [{ txt = \"x\" }]\n").line, 5);
  EXPECT_EQ(parse_error(std::string(general_table) + "en = [3]\n").line, 5);
  EXPECT_EQ(parse_error("[[category]]\nid = \"Bad Id\"\nname = { zh = \"x\", en = \"x\" }\n").line,
            2);
  EXPECT_EQ(parse_error("[[category]]\nid = \"general\"\n").line, 1);  // no display names
  EXPECT_EQ(parse_error("colour = 1\n" + std::string(general_table)).line, 1);
  EXPECT_EQ(parse_error("").line, 1);  // no categories at all
}

TEST(classifier_rules, load_reports_missing_file) {
  auto r = rules::load("/nonexistent/categories.toml");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().file, "/nonexistent/categories.toml");
  EXPECT_EQ(r.error().line, 0);
  EXPECT_TRUE(r.error().to_string().starts_with("/nonexistent/categories.toml: "));
}

TEST(classifier_rules, default_rules_file_is_valid) {
  auto r = rules::load(std::filesystem::path(SUPPORTD_SOURCE_DIR) / "config" / "categories.toml");
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  EXPECT_GE((*r)->categories().size(), 13u);
  for (const std::string& id : (*r)->categories()) {
    EXPECT_NE((*r)->display_name(id, "zh"), id) << id;
    EXPECT_NE((*r)->display_name(id, "en"), id) << id;
  }
}

}  // namespace
}  // namespace supportd::classifier
