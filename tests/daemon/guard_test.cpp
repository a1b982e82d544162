#include "supportd/daemon/guard.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace supportd::daemon {
namespace {

guard_settings ours() { return {{"support@okpay-wallet.example"}, "okpay-wallet.example", true}; }

guard_verdict verdict_for_file(const std::string& name) {
  auto msg = mime::parse_message(test::read_data(name));
  EXPECT_TRUE(msg.has_value()) << name;
  return should_auto_reply(*msg, ours());
}

guard_verdict verdict_for(const std::string& headers) {
  std::string raw = headers + "\r\n\r\nbody text\r\n";
  auto msg = mime::parse_message(raw);
  EXPECT_TRUE(msg.has_value());
  return should_auto_reply(*msg, ours());
}

const std::string person =
    "From: Ann <ann@example.com>\r\nTo: support@okpay-wallet.example\r\n"
    "Subject: help\r\nMessage-ID: <a1@example.com>";

TEST(Guard, PeopleGetReplies) {
  EXPECT_TRUE(verdict_for_file("customer_en_withdrawal.eml").may_reply);
  EXPECT_TRUE(verdict_for_file("customer_zh_gb2312.eml").may_reply);
  EXPECT_TRUE(verdict_for(person).may_reply);
}

TEST(Guard, MachinesGetNone) {
  EXPECT_EQ(verdict_for_file("bounce.eml").rule, "auto-submitted");
  EXPECT_EQ(verdict_for_file("out_of_office.eml").rule, "auto-submitted");
  EXPECT_EQ(verdict_for_file("newsletter.eml").rule, "mailing-list");
  EXPECT_EQ(verdict_for_file("noreply.eml").rule, "system-sender");
}

TEST(Guard, AutoSubmittedNoIsAPerson) {
  EXPECT_TRUE(verdict_for(person + "\r\nAuto-Submitted: no").may_reply);
  EXPECT_TRUE(verdict_for(person + "\r\nAuto-Submitted: No (comment)").may_reply);
  EXPECT_FALSE(verdict_for(person + "\r\nAuto-Submitted: auto-generated").may_reply);
}

TEST(Guard, EachRuleFires) {
  EXPECT_EQ(verdict_for("Return-Path: <>\r\n" + person).rule, "null-return-path");
  EXPECT_EQ(verdict_for(person + "\r\nX-Autoreply: yes").rule, "auto-reply-header");
  EXPECT_EQ(verdict_for(person + "\r\nX-Auto-Response-Suppress: OOF").rule,
            "auto-response-suppress");
  EXPECT_EQ(verdict_for(person + "\r\nList-Unsubscribe: <mailto:u@x>").rule, "mailing-list");
  EXPECT_EQ(verdict_for(person + "\r\nPrecedence: junk").rule, "precedence");
  EXPECT_EQ(verdict_for(person + "\r\nX-Spam-Flag: YES").rule, "spam");
  EXPECT_EQ(verdict_for(person + "\r\nAuthentication-Results: mx; dmarc=fail header.from=x")
                .rule,
            "dmarc-fail");
  EXPECT_EQ(verdict_for(person + "\r\nX-Loop: support@okpay-wallet.example").rule, "loop");
}

TEST(Guard, SystemSendersAndOwnAddress) {
  for (const char* from : {"MAILER-DAEMON@x.example", "postmaster@x.example",
                           "no-reply@x.example", "noreply-alerts@x.example",
                           "list-request@x.example", "owner-list@x.example"})
    EXPECT_EQ(verdict_for(std::string("From: ") + from +
                          "\r\nTo: support@okpay-wallet.example\r\nSubject: hi")
                  .rule,
              "system-sender")
        << from;
  EXPECT_EQ(verdict_for("From: Support <SUPPORT@okpay-wallet.example>\r\n"
                        "To: support@okpay-wallet.example\r\nSubject: hi")
                .rule,
            "own-address");
  EXPECT_EQ(verdict_for("From: a@example.com\r\nTo: support@okpay-wallet.example\r\nSubject: x\r\n"
                        "Message-ID: <ar.1@okpay-wallet.example>")
                .rule,
            "own-message");
}

TEST(Guard, ReplyToIsCheckedToo) {
  EXPECT_EQ(verdict_for(person + "\r\nReply-To: bounces@lists.example").rule, "system-sender");
}

TEST(Guard, AutoReplySubjectsWithoutHeaders) {
  EXPECT_EQ(verdict_for("From: a@example.com\r\nTo: support@okpay-wallet.example\r\n"
                        "Subject: Out of Office: back Monday")
                .rule,
            "auto-reply-subject");
  EXPECT_EQ(verdict_for("From: a@example.com\r\nTo: support@okpay-wallet.example\r\n"
                        "Subject: =?UTF-8?B?6Ieq5Yqo5Zue5aSNOiDmlLbliLA=?=")
                .rule,
            "auto-reply-subject");
}

TEST(Guard, AutoReplySubjectMarkersInsideTheSubject) {
  auto rule_for_subject = [](const std::string& subject) {
    return verdict_for("From: a@example.com\r\nTo: support@okpay-wallet.example\r\nSubject: " + subject).rule;
  };
  // Markers longer than six bytes count anywhere, in any case; shorter ones only at the start.
  EXPECT_EQ(rule_for_subject("Re: UNDELIVERABLE: invoice"), "auto-reply-subject");
  EXPECT_EQ(rule_for_subject("Fwd: Automatic Reply: Ann"), "auto-reply-subject");
  EXPECT_EQ(rule_for_subject("AUTO: away"), "auto-reply-subject");
  EXPECT_EQ(rule_for_subject("\xE5\xA4\x96\xE5\x87\xBA"), "auto-reply-subject");  // 外出
  EXPECT_EQ(rule_for_subject("Re: auto: away"), "");
  EXPECT_EQ(rule_for_subject("Re: \xE5\xA4\x96\xE5\x87\xBA"), "");
  EXPECT_EQ(rule_for_subject("Automatic payments stopped"), "");
}

TEST(Guard, NotAddressedToUs) {
  EXPECT_EQ(verdict_for("From: a@example.com\r\nTo: someone@example.org\r\nSubject: hi").rule,
            "not-addressed");
  EXPECT_TRUE(verdict_for("From: a@example.com\r\nTo: x@example.org\r\n"
                          "Cc: Support <Support@OKPay-Wallet.example>\r\nSubject: hi")
                  .may_reply);
}

TEST(Guard, NoSender) {
  EXPECT_EQ(verdict_for("To: support@okpay-wallet.example\r\nSubject: hi").rule, "no-sender");
}

TEST(Guard, ReplyAddressPrefersReplyTo) {
  auto msg = mime::parse_message(person + "\r\nReply-To: Ann Work <ann@work.example>\r\n\r\nx");
  ASSERT_TRUE(msg);
  EXPECT_EQ(reply_address(*msg), "ann@work.example");
}

}  // namespace
}  // namespace supportd::daemon
