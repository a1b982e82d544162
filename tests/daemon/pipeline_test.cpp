#include "supportd/daemon/pipeline.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace supportd::daemon {
namespace {

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    settings_.reply.from = {"OKPay Support", "support@okpay-wallet.example"};
    settings_.reply.addresses = {"support@okpay-wallet.example"};
    settings_.reply.message_id_domain = "okpay-wallet.example";
    settings_.rules_path = std::string(SUPPORTD_SOURCE_DIR) + "/config/categories.toml";
    settings_.templates_dir = std::string(SUPPORTD_SOURCE_DIR) + "/templates";
    settings_.store_path = dir_.path / "supportd.db";
    auto rt = load_runtime(settings_);
    ASSERT_TRUE(rt) << (rt ? "" : rt.error().front());
    runtime_ = *rt;
    db_ = std::make_unique<store::store>(settings_.store_path);
    pipeline_ = std::make_unique<pipeline>(settings_, *db_);
  }

  outcome process(const std::string& raw) {
    store::inbound_key key{"INBOX", 1, ++uid_};
    db_->note_seen(key);
    return pipeline_->process(key, raw, *runtime_, 1'790'000'000 + uid_);
  }
  outcome process_file(const std::string& name) { return process(test::read_data(name)); }

  std::vector<store::outbox_row> outbox() { return db_->due_outbox(2'000'000'000, 100); }

  test::scratch_dir dir_;
  settings settings_;
  std::shared_ptr<const runtime> runtime_;
  std::unique_ptr<store::store> db_;
  std::unique_ptr<pipeline> pipeline_;
  std::int64_t uid_ = 0;
};

bool has_line(const std::string& data, const std::string& line) {
  return data.find("\r\n" + line + "\r\n") != std::string::npos;
}

TEST_F(PipelineTest, EnglishCustomerGetsEnglishReplyWithHeaders) {
  outcome o = process_file("customer_en_withdrawal.eml");
  EXPECT_EQ(o.decision, "auto_reply");
  auto t = db_->thread(o.thread_id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->category, "withdrawal_delay");
  EXPECT_EQ(t->language, "en");
  EXPECT_EQ(t->status, store::thread_status::auto_replied);
  auto items = outbox();
  ASSERT_EQ(items.size(), 1u);
  const auto& data = items[0].data;
  EXPECT_EQ(items[0].recipients, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(items[0].envelope_from, "");
  EXPECT_TRUE(has_line(data, "Subject: Re: Withdrawal to my bank account has not arrived [#" +
                                 o.ticket + "]"))
      << data;
  EXPECT_TRUE(has_line(data, "In-Reply-To: <wd-1@mail.example.com>")) << data;
  EXPECT_TRUE(has_line(data, "References: <wd-1@mail.example.com>")) << data;
  EXPECT_TRUE(has_line(data, "Auto-Submitted: auto-replied")) << data;
  EXPECT_TRUE(has_line(data, "X-Auto-Response-Suppress: All")) << data;
  EXPECT_NE(data.find("Message-ID: <ar."), std::string::npos);
  EXPECT_NE(data.find("@okpay-wallet.example>"), std::string::npos);
  auto reply = mime::parse_message(data);
  ASSERT_TRUE(reply);
  EXPECT_NE(reply->body_text.find("Alice Walker"), std::string::npos) << reply->body_text;
}

TEST_F(PipelineTest, ChineseCustomerGetsChineseReply) {
  outcome o = process_file("customer_zh_gb2312.eml");
  EXPECT_EQ(o.decision, "auto_reply");
  auto t = db_->thread(o.thread_id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->category, "payment_failed");
  EXPECT_EQ(t->language, "zh");
  EXPECT_EQ(t->customer_name, "王小红");
  auto items = outbox();
  ASSERT_EQ(items.size(), 1u);
  // The subject is RFC 2047 encoded; the body is UTF-8 Chinese.
  EXPECT_NE(items[0].data.find("Subject: =?utf-8?B?"), std::string::npos) << items[0].data;
  EXPECT_NE(items[0].data.find("charset=utf-8"), std::string::npos);
  auto reply = mime::parse_message(items[0].data);
  ASSERT_TRUE(reply);
  EXPECT_NE(reply->body_text.find("王小红"), std::string::npos) << reply->body_text;
  EXPECT_NE(reply->subject.find("支付失败"), std::string::npos) << reply->subject;
  auto messages = db_->thread_messages(o.thread_id);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_NE(messages[1].body.find("王小红"), std::string::npos);
}

TEST_F(PipelineTest, TraditionalChineseEscalatingCategory) {
  outcome o = process_file("customer_zh_big5_frozen.eml");
  EXPECT_EQ(o.decision, "auto_reply");
  auto t = db_->thread(o.thread_id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->category, "account_frozen");
  EXPECT_EQ(t->language, "zh");
  EXPECT_EQ(t->status, store::thread_status::escalated);
}

TEST_F(PipelineTest, MachinesAreLoggedNotAnswered) {
  for (const char* f : {"bounce.eml", "out_of_office.eml", "newsletter.eml", "noreply.eml"}) {
    outcome o = process_file(f);
    EXPECT_EQ(o.decision, "suppress") << f;
    EXPECT_FALSE(o.reason.empty()) << f;
    auto t = db_->thread(o.thread_id);
    ASSERT_TRUE(t) << f;
    EXPECT_EQ(t->status, store::thread_status::suppressed) << f;
  }
  EXPECT_TRUE(outbox().empty());
}

TEST_F(PipelineTest, CustomerReplyJoinsThreadAndEscalates) {
  outcome first = process_file("customer_en_withdrawal.eml");
  auto reply_id = outbox().at(0).message_id;
  std::string follow_up =
      "From: Alice Walker <alice@example.com>\r\nTo: support@okpay-wallet.example\r\n"
      "Subject: Re: Withdrawal [#" + first.ticket + "]\r\nMessage-ID: <wd-2@mail.example.com>\r\n"
      "In-Reply-To: <" + reply_id + ">\r\nReferences: <wd-1@mail.example.com> <" + reply_id +
      ">\r\n\r\nStill nothing arrived.\r\n";
  outcome second = process(follow_up);
  EXPECT_EQ(second.decision, "escalate");
  EXPECT_EQ(second.thread_id, first.thread_id);
  EXPECT_EQ(db_->thread(first.thread_id)->status, store::thread_status::escalated);
  EXPECT_EQ(outbox().size(), 1u) << "no second auto-reply";
}

TEST_F(PipelineTest, TicketTagJoinsOnlyForParticipants) {
  outcome first = process_file("customer_en_withdrawal.eml");
  auto with_tag = [&](const std::string& from, const std::string& id) {
    return "From: " + from + "\r\nTo: support@okpay-wallet.example\r\nSubject: about [#" +
           first.ticket + "]\r\nMessage-ID: <" + id + ">\r\n\r\nMy withdrawal is pending.\r\n";
  };
  outcome same = process(with_tag("alice@example.com", "t1@example.com"));
  EXPECT_EQ(same.thread_id, first.thread_id);
  outcome stranger = process(with_tag("mallory@example.net", "t2@example.net"));
  EXPECT_NE(stranger.thread_id, first.thread_id);
  EXPECT_EQ(stranger.decision, "auto_reply");
}

TEST_F(PipelineTest, ResolvedThreadReopensOnCustomerMail) {
  outcome first = process_file("customer_en_withdrawal.eml");
  db_->set_thread_status(first.thread_id, store::thread_status::resolved);
  std::string again = "From: alice@example.com\r\nTo: support@okpay-wallet.example\r\n"
                      "Subject: Re: [#" + first.ticket + "]\r\nMessage-ID: <wd-9@x.example>\r\n"
                      "In-Reply-To: <wd-1@mail.example.com>\r\n\r\nIt came back.\r\n";
  outcome o = process(again);
  EXPECT_EQ(o.thread_id, first.thread_id);
  EXPECT_NE(o.reason.find("resolved"), std::string::npos);
  EXPECT_EQ(db_->thread(first.thread_id)->status, store::thread_status::escalated);
}

TEST_F(PipelineTest, SameMessageTwiceIsAnsweredOnce) {
  process_file("customer_en_withdrawal.eml");
  outcome dup = process_file("customer_en_withdrawal.eml");
  EXPECT_EQ(dup.decision, "duplicate");
  EXPECT_EQ(outbox().size(), 1u);
}

TEST_F(PipelineTest, MessageWithoutSubjectGetsTheCategoryName) {
  process("From: a@example.com\r\nTo: support@okpay-wallet.example\r\nMessage-ID: <ns@x>\r\n\r\n"
          "I want a refund for my purchase, the merchant never shipped it.\r\n");
  auto items = outbox();
  ASSERT_EQ(items.size(), 1u);
  auto reply = mime::parse_message(items[0].data);
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->subject.starts_with("Re: Refund")) << reply->subject;
}

TEST_F(PipelineTest, OldMailIsBacklogNotAnswered) {
  store::inbound_key key{"INBOX", 1, ++uid_};
  db_->note_seen(key);
  const std::int64_t now = 1'790'000'000;
  outcome o = pipeline_->process(key, test::read_data("customer_en_withdrawal.eml"), *runtime_,
                                 now, now - 3 * 86400);
  EXPECT_EQ(o.decision, "suppress");
  EXPECT_NE(o.reason.find("backlog"), std::string::npos) << o.reason;
  EXPECT_TRUE(outbox().empty());
}

TEST_F(PipelineTest, RepeatAndFloodLimits) {
  auto mail = [](int n, const std::string& subject, const std::string& body) {
    return "From: bob@example.com\r\nTo: support@okpay-wallet.example\r\nSubject: " + subject +
           "\r\nMessage-ID: <flood" + std::to_string(n) + "@x>\r\n\r\n" + body + "\r\n";
  };
  EXPECT_EQ(process(mail(1, "Refund", "I want a refund for my order.")).decision, "auto_reply");
  outcome again = process(mail(2, "Refund again", "Please refund my money back."));
  EXPECT_EQ(again.decision, "escalate") << again.reason;
  EXPECT_NE(again.reason.find("already auto-replied"), std::string::npos);
  settings_.reply.max_per_recipient_per_day = 2;
  EXPECT_EQ(process(mail(3, "Fee question", "What is the fee for an international transfer?"))
                .decision,
            "auto_reply");
  outcome capped = process(mail(4, "Forgot password", "I forgot my password, reset link?"));
  EXPECT_EQ(capped.decision, "suppress");
  EXPECT_NE(capped.reason.find("flood"), std::string::npos) << capped.reason;
  EXPECT_EQ(outbox().size(), 2u);
}

TEST_F(PipelineTest, KillSwitchHoldsEverything) {
  settings_.reply.enabled = false;
  outcome o = process_file("customer_en_withdrawal.eml");
  EXPECT_EQ(o.decision, "hold");
  EXPECT_TRUE(outbox().empty());
  EXPECT_EQ(db_->thread(o.thread_id)->status, store::thread_status::escalated);
}

TEST_F(PipelineTest, SecretsNeverReachTheStore) {
  process("From: c@example.com\r\nTo: support@okpay-wallet.example\r\nSubject: charged twice "
          "4111 1111 1111 1111\r\nMessage-ID: <sec@x>\r\n\r\nMy password is Secret123 and the "
          "top-up was charged twice.\r\n");
  auto threads = db_->list_threads(std::nullopt);
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_EQ(threads[0].subject.find("4111"), std::string::npos) << threads[0].subject;
  for (const auto& m : db_->thread_messages(threads[0].id)) {
    EXPECT_EQ(m.body.find("Secret123"), std::string::npos) << m.body;
    EXPECT_EQ(m.subject.find("4111 1111"), std::string::npos) << m.subject;
  }
  auto items = outbox();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].data.find("4111"), std::string::npos);
}

TEST_F(PipelineTest, ReplyIdIsStableForRetries) {
  store::inbound_key key{"INBOX", 1, 5};
  EXPECT_EQ(reply_message_id("x@y", key, "d.example"), reply_message_id("x@y", key, "d.example"));
  EXPECT_NE(reply_message_id("x@y", key, "d.example"), reply_message_id("z@y", key, "d.example"));
}

TEST_F(PipelineTest, UnparseableMailIsKeptForAnAgent) {
  std::string huge(30 * 1024 * 1024, 'a');
  outcome o = process("From: a@example.com\r\nSubject: big\r\n\r\n" + huge);
  EXPECT_EQ(o.decision, "escalate");
  EXPECT_NE(o.reason.find("unparseable"), std::string::npos);
  EXPECT_EQ(db_->thread(o.thread_id)->status, store::thread_status::escalated);
}

TEST_F(PipelineTest, HeaderInjectionFromSubjectIsNeutralised) {
  std::string raw = "From: Eve <eve@example.com>\r\nTo: support@okpay-wallet.example\r\n"
                    "Subject: =?UTF-8?Q?refund=0D=0ABcc:_victim@example.org?=\r\n"
                    "Message-ID: <inj@example.com>\r\n\r\nI want a refund please.\r\n";
  process(raw);
  auto items = outbox();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].data.find("\r\nBcc:"), std::string::npos) << items[0].data;
}

TEST(ReplySubject, DoesNotStackPrefixesOrTags) {
  EXPECT_EQ(reply_subject("Help", "OK-000001"), "Re: Help [#OK-000001]");
  EXPECT_EQ(reply_subject("Re: Help [#OK-000001]", "OK-000001"), "Re: Help [#OK-000001]");
  EXPECT_EQ(reply_subject("", "OK-000002"), "Re: [#OK-000002]");
  EXPECT_EQ(ticket_in_subject("Re: x [#OK-000042]"), "OK-000042");
  EXPECT_EQ(ticket_in_subject("[#bad tag] x"), "");
}

}  // namespace
}  // namespace supportd::daemon
