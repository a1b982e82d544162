#include "supportd/daemon/checks.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "test_support.hpp"

namespace supportd::daemon {
namespace {

namespace fs = std::filesystem;

// Settings around a copy of the shipped templates that a test may edit.
class TemplateLinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy(fs::path(SUPPORTD_SOURCE_DIR) / "templates", dir_.path / "templates",
             fs::copy_options::recursive);
    settings_.reply.from = {"OKPay Support", "support@okpay-wallet.example"};
    settings_.reply.addresses = {"support@okpay-wallet.example"};
    settings_.reply.message_id_domain = "okpay-wallet.example";
    settings_.rules_path = fs::path(SUPPORTD_SOURCE_DIR) / "config" / "categories.toml";
    settings_.templates_dir = dir_.path / "templates";
  }

  // Appends `line` to en/refund.mustache (whose last line is then the returned line number).
  int append_to_refund(const std::string& line) {
    const fs::path file = settings_.templates_dir / "en" / "refund.mustache";
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

  test::scratch_dir dir_;
  settings settings_;
};

TEST_F(TemplateLinksTest, ShippedTemplatesPassWithTheShippedList) {
  settings_.link_domains = std::vector<std::string>{"okpay-wallet.example"};
  auto rt = load_checked_runtime(settings_);
  ASSERT_TRUE(rt) << rt.error().front();
  EXPECT_TRUE(rt->warnings.empty());
}

TEST_F(TemplateLinksTest, OffListLinkIsAnErrorWithFileAndLine) {
  settings_.link_domains = std::vector<std::string>{"okpay-wallet.example"};
  const int line = append_to_refund("Claim it at https://okpay-wallet.example@evil.com/refund");
  auto rt = load_checked_runtime(settings_);
  ASSERT_FALSE(rt);
  ASSERT_EQ(rt.error().size(), 1u);
  const std::string expected = (settings_.templates_dir / "en" / "refund.mustache").string() + ":" +
                               std::to_string(line) +
                               ": link to host evil.com is outside [templates] link_domains";
  EXPECT_TRUE(rt.error().front().starts_with(expected)) << rt.error().front();
}

TEST_F(TemplateLinksTest, UnreadableHostIsAnError) {
  settings_.link_domains = std::vector<std::string>{"okpay-wallet.example"};
  append_to_refund("https://evil.com\\@okpay-wallet.example/");
  auto rt = load_checked_runtime(settings_);
  ASSERT_FALSE(rt);
  EXPECT_NE(rt.error().front().find("backslash"), std::string::npos) << rt.error().front();
}

TEST_F(TemplateLinksTest, SubdomainsOfAListedDomainAreAllowed) {
  settings_.link_domains = std::vector<std::string>{"okpay-wallet.example"};
  append_to_refund(
      "https://status.eu.okpay-wallet.example/ and mailto:refunds@OKPAY-WALLET.example");
  EXPECT_TRUE(load_checked_runtime(settings_));
}

TEST_F(TemplateLinksTest, EmptyListAllowsNoLinkAtAll) {
  settings_.link_domains = std::vector<std::string>{};
  auto rt = load_checked_runtime(settings_);
  ASSERT_FALSE(rt);
  EXPECT_GT(rt.error().size(), 26u);
}

TEST_F(TemplateLinksTest, WithoutTheKeyTheReplyDomainsGiveWarnings) {
  const int line = append_to_refund("see www.evil.com");
  auto rt = load_checked_runtime(settings_);
  ASSERT_TRUE(rt);
  ASSERT_EQ(rt->warnings.size(), 1u);
  EXPECT_NE(rt->warnings.front().find("refund.mustache:" + std::to_string(line) +
                                      ": link to host www.evil.com is outside the domains of "
                                      "[reply] (okpay-wallet.example"),
            std::string::npos)
      << rt->warnings.front();
  // message_id_domain counts as one of ours too.
  settings_.reply.message_id_domain = "evil.com";
  rt = load_checked_runtime(settings_);
  ASSERT_TRUE(rt);
  EXPECT_TRUE(rt->warnings.empty()) << rt->warnings.front();
}

}  // namespace
}  // namespace supportd::daemon
