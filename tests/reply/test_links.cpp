#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "shipped_categories.hpp"
#include "supportd/reply/links.hpp"
#include "supportd/reply/templates.hpp"

namespace {

using supportd::reply::find_links;
using supportd::reply::host_within;
using supportd::reply::link;

// The only link of `text` (fails the test when there is not exactly one).
link only_link(const std::string& text) {
  auto found = find_links(text);
  EXPECT_EQ(found.size(), 1u) << text;
  return found.empty() ? link{} : found.front();
}

const std::vector<std::string> ours{"okpay-wallet.example"};

TEST(ReplyLinks, FindsEveryKindWithItsLine) {
  const auto found = find_links(
      "Hello,\n"
      "see https://www.okpay-wallet.example/help or www.okpay-wallet.example/fees\n"
      "\n"
      "write to mailto:help@okpay-wallet.example, or to security@okpay-wallet.example.\n"
      "ftp://files.okpay-wallet.example/x\n");
  ASSERT_EQ(found.size(), 5u);
  EXPECT_EQ(found[0].line, 2u);
  EXPECT_EQ(found[0].text, "https://www.okpay-wallet.example/help");
  EXPECT_EQ(found[0].host, "www.okpay-wallet.example");
  EXPECT_EQ(found[1].line, 2u);
  EXPECT_EQ(found[1].text, "www.okpay-wallet.example/fees");
  EXPECT_EQ(found[2].line, 4u);
  EXPECT_EQ(found[2].text, "mailto:help@okpay-wallet.example");
  EXPECT_EQ(found[2].host, "okpay-wallet.example");
  EXPECT_EQ(found[3].text, "security@okpay-wallet.example");
  EXPECT_EQ(found[3].host, "okpay-wallet.example");
  EXPECT_EQ(found[4].line, 5u);
  EXPECT_EQ(found[4].host, "files.okpay-wallet.example");
  for (const auto& l : found) EXPECT_EQ(l.problem, "") << l.text;
}

TEST(ReplyLinks, HostIsWhatTheBrowserOpens) {
  // Userinfo before "@" is not the host (RFC 3986 §3.2.1).
  EXPECT_EQ(only_link("https://okpay-wallet.example@evil.com/login").host, "evil.com");
  EXPECT_EQ(only_link("https://user:pw@okpay-wallet.example/").host, "okpay-wallet.example");
  EXPECT_EQ(only_link("HTTPS://WWW.OKPay-Wallet.EXAMPLE/Help").host, "www.okpay-wallet.example");
  EXPECT_EQ(only_link("http://okpay-wallet.example:8443/x").host, "okpay-wallet.example");
  EXPECT_EQ(only_link("http://[::1]:8080/").host, "[::1]");
  EXPECT_EQ(only_link("http://192.0.2.1/").host, "192.0.2.1");
  EXPECT_EQ(only_link("https://okpay-wallet.example?q=1").host, "okpay-wallet.example");
}

TEST(ReplyLinks, TrailingPunctuationIsNotPartOfTheLink) {
  auto l = only_link("Go to https://okpay-wallet.example.");
  EXPECT_EQ(l.host, "okpay-wallet.example");
  EXPECT_EQ(l.text, "https://okpay-wallet.example");
  l = only_link("(see www.okpay-wallet.example/help).");
  EXPECT_EQ(l.text, "www.okpay-wallet.example/help");
  EXPECT_EQ(l.problem, "");
  l = only_link("Visit https://okpay-wallet.example/a, then call.");
  EXPECT_EQ(l.text, "https://okpay-wallet.example/a");
  l = only_link("'https://okpay-wallet.example'");
  EXPECT_EQ(l.host, "okpay-wallet.example");
  EXPECT_EQ(l.problem, "");
  // Chinese sentences put no space around a link.
  l = only_link("请访问https://www.okpay-wallet.example，或回复本邮件。");
  EXPECT_EQ(l.host, "www.okpay-wallet.example");
  EXPECT_EQ(l.problem, "");
  EXPECT_EQ(only_link("请访问 https://okpay-wallet.example。").problem, "");
  EXPECT_EQ(only_link("（https://okpay-wallet.example/help）").text,
            "https://okpay-wallet.example/help");
}

TEST(ReplyLinks, HostsClientsMayReadDifferentlyAreProblems) {
  // Letters straight after the host may be read as part of it.
  EXPECT_NE(only_link("https://okpay-wallet.example中国").problem, "");
  EXPECT_NE(only_link("https://okpay-wallet.example.中国").problem, "");
  // UTS #46 reads "。" as "." inside a host name.
  EXPECT_NE(only_link("https://okpay-wallet.example。evil.com").problem, "");
  // WHATWG reads "\" as "/": the browser opens evil.com.
  EXPECT_NE(only_link("https://evil.com\\@okpay-wallet.example/").problem, "");
  // A Cyrillic "о" in place of "o".
  EXPECT_NE(only_link("https://\xD0\xBEkpay-wallet.example/").problem, "");
  EXPECT_NE(only_link("https://okpay%2dwallet.example/").problem, "");
  EXPECT_NE(only_link("mailto:help%40evil.com").problem, "");
}

TEST(ReplyLinks, TemplateVariables) {
  // Our own configured address.
  EXPECT_TRUE(find_links("mailto:{{support_address}}").empty());
  // A variable in the path is fine; in the host it is whatever the value is.
  auto l = only_link("https://okpay-wallet.example/t/{{ticket}}");
  EXPECT_EQ(l.host, "okpay-wallet.example");
  EXPECT_EQ(l.problem, "");
  EXPECT_NE(only_link("https://{{subject}}/x").problem, "");
  EXPECT_NE(only_link("mailto:{{customer_name}}").problem, "");
  EXPECT_NE(only_link("https://okpay-wallet.example{{ticket}}/").problem, "");
  EXPECT_NE(only_link("write to help@{{subject}}").problem, "");
}

TEST(ReplyLinks, MailtoWithSeveralAddresses) {
  const auto found = find_links("mailto:a@okpay-wallet.example,b@evil.com?subject=hi");
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].host, "okpay-wallet.example");
  EXPECT_EQ(found[1].host, "evil.com");
}

TEST(ReplyLinks, TextThatIsNotALink) {
  EXPECT_TRUE(find_links("e.g. this, i.e. that; www. alone; meet @ 3pm; root@localhost").empty());
  EXPECT_TRUE(find_links("费用 @ 0.5%；账号 user@ 空").empty());
  EXPECT_TRUE(find_links("").empty());
}

TEST(ReplyLinks, HostWithinAllowedDomains) {
  EXPECT_TRUE(host_within("okpay-wallet.example", ours));
  EXPECT_TRUE(host_within("www.okpay-wallet.example", ours));
  EXPECT_TRUE(host_within("a.b.okpay-wallet.example", ours));
  EXPECT_TRUE(host_within("WWW.OKPAY-WALLET.EXAMPLE.", ours));
  EXPECT_TRUE(host_within("help.okpay-wallet.example", {"EVIL.COM", "OKPay-Wallet.example"}));
  EXPECT_FALSE(host_within("okpay-wallet.example.evil.com", ours));
  EXPECT_FALSE(host_within("evilokpay-wallet.example", ours));
  EXPECT_FALSE(host_within("okpay-wallet.examples", ours));
  EXPECT_FALSE(host_within("example", ours));
  EXPECT_FALSE(host_within("", ours));
  EXPECT_FALSE(host_within("okpay-wallet.example", {}));
}

TEST(ReplyLinks, UserinfoTrickIsOutsideTheList) {
  const auto l = only_link("https://okpay-wallet.example@evil.com");
  EXPECT_FALSE(host_within(l.host, ours));
}

TEST(ReplyLinks, EveryShippedLinkIsOurs) {
  const auto& categories = supportd::test::shipped_categories;
  const auto set = supportd::reply::template_set::load(
      std::filesystem::path(SUPPORTD_SOURCE_DIR) / "templates", categories);
  ASSERT_TRUE(set.has_value());
  const auto links = (*set)->links();
  EXPECT_GT(links.size(), 26u);
  for (const auto& [file, l] : links) {
    EXPECT_EQ(l.problem, "") << file << ":" << l.line;
    EXPECT_TRUE(host_within(l.host, ours)) << file << ":" << l.line << ": " << l.host;
  }
}

TEST(ReplyLinks, CommentsAreNotSent) {
  const std::vector<std::string> categories{"general"};
  const auto dir = std::filesystem::temp_directory_path() / "supportd-links-comment-test";
  std::filesystem::create_directories(dir / "en");
  std::ofstream(dir / "en" / "general.mustache")
      << "{{! old page: https://wiki.internal.example/x }}\nHello\n{{!\nmulti-line\n}}\n"
         "see www.evil.com\n";
  const auto set = supportd::reply::template_set::load(dir, categories, {"en"});
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(set.has_value());
  const auto links = (*set)->links();
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].found.host, "www.evil.com");
  EXPECT_EQ(links[0].found.line, 6u);
}

}  // namespace
