#include "supportd/daemon/redact.hpp"

#include <gtest/gtest.h>

namespace supportd::daemon {
namespace {

std::string redacted(std::string_view s) { return redact_sensitive(s).text; }

TEST(Redact, LuhnValidCardNumbersGo) {
  EXPECT_TRUE(luhn_valid("4111111111111111"));
  EXPECT_FALSE(luhn_valid("4111111111111112"));
  EXPECT_EQ(redacted("my card 4111 1111 1111 1111 was charged"),
            "my card [card number removed] was charged");
  EXPECT_EQ(redacted("卡号4111-1111-1111-1111扣了两次"), "卡号[card number removed]扣了两次");
  auto r = redact_sensitive("5500000000000004");
  EXPECT_EQ(r.text, "[card number removed]");
  ASSERT_EQ(r.kinds.size(), 1u);
  EXPECT_EQ(r.kinds[0], "card number");
}

TEST(Redact, OrdinaryNumbersStay) {
  // Transaction ids, phone numbers and amounts are not Luhn-valid card-length runs.
  EXPECT_EQ(redacted("transaction 202611220001234 amount 1500.00"),
            "transaction 202611220001234 amount 1500.00");
  EXPECT_EQ(redacted("call 13800138000"), "call 13800138000");
  EXPECT_EQ(redacted("order 4111111111111112"), "order 4111111111111112");
  // Luhn-valid but no card scheme starts with 20: a date-based transaction id.
  EXPECT_TRUE(luhn_valid("202611220001234"));
  EXPECT_EQ(redacted("id 202611220001234"), "id 202611220001234");
  EXPECT_EQ(redacted("UnionPay 6212345678901232"), "UnionPay [card number removed]");
}

TEST(Redact, PasswordsAfterALabel) {
  EXPECT_EQ(redacted("password: hunter2"), "password: [removed]");
  EXPECT_EQ(redacted("My password is Abc12345, please check"),
            "My password is [removed], please check");
  EXPECT_EQ(redacted("我的密码是abc123456，登录不了"), "我的密码是[removed]，登录不了");
  EXPECT_EQ(redacted("支付密码：882211"), "支付密码：[removed]");
  // Words that are not secrets stay readable.
  EXPECT_EQ(redacted("my password is wrong"), "my password is wrong");
  EXPECT_EQ(redacted("I forgot my password."), "I forgot my password.");
  EXPECT_EQ(redacted("spinning wheel"), "spinning wheel");
}

TEST(Redact, SeedPhrasesAndKeys) {
  EXPECT_EQ(redacted("abandon ability able about above absent absorb abstract absurd abuse "
                     "access accident"),
            "[seed phrase removed]");
  EXPECT_EQ(redacted("助记词：apple banana cherry"), "助记词： [seed phrase removed]");
  EXPECT_EQ(redacted("here is my seed phrase:\nfoo bar baz qux\nthanks"),
            "here is my seed phrase:\n[seed phrase removed]\nthanks");
  EXPECT_EQ(redacted("key " + std::string(64, 'a')), "key [private key removed]");
  // A normal English sentence of twelve words is not a seed phrase (capitals, punctuation).
  EXPECT_EQ(redacted("I have been waiting for my refund for two weeks now, please help."),
            "I have been waiting for my refund for two weeks now, please help.");
}

}  // namespace
}  // namespace supportd::daemon
