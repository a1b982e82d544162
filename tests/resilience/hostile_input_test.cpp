// Hostile input: malformed and oversized mail must each get a recorded outcome, never stop the
// daemon, and never keep the next ordinary customer from being answered.

#include "resilience_support.hpp"

namespace supportd::test::resilience {
namespace {

const std::string common =
    "To: support@okpay-wallet.example\r\nDate: " + rfc5322_now() + "\r\nMIME-Version: 1.0\r\n";

std::string crlf_nul_headers() {
  std::string m = "From: Eve";
  m += '\0';
  m += " Nul <eve-nul@hostile.example>\r\n";
  m += common;
  m += "Subject: hello\r\nBcc: injected@evil.example\r\n";  // CR LF inside a decoded word below
  m += "X-Injected: =?utf-8?Q?a=0D=0ABcc:_evil@evil.example?=\r\n";
  m += "X-Bare-CR: one\rtwo\r\n";
  m += "X-Nul: before";
  m += '\0';
  m += "after\r\nMessage-ID: <hostile-crlf-nul@hostile.example>\r\nContent-Type: text/plain\r\n\r\n";
  m += "My withdrawal";
  m += '\0';
  m += " is late.\r\n";
  return m;
}

std::string ten_thousand_recipients() {
  std::string m = "From: Mass Sender <mass@hostile.example>\r\nTo: support@okpay-wallet.example";
  for (int i = 0; i < 10'000; ++i) m += ",\r\n r" + std::to_string(i) + "@many.example";
  m += "\r\nDate: " + rfc5322_now() + "\r\nMIME-Version: 1.0\r\n"
       "Subject: Withdrawal late\r\nMessage-ID: <hostile-10k@hostile.example>\r\n"
       "Content-Type: text/plain\r\n\r\nWhere is my withdrawal?\r\n";
  return m;
}

std::string fifty_megabyte_attachment() {
  // 76 base64 characters decode to 57 bytes; 920,000 lines are just over 50 MB decoded.
  const std::string line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
  std::string m = "From: Big Sender <big@hostile.example>\r\n" + common +
                  "Subject: Screenshot of my failed payment\r\nMessage-ID: <hostile-50mb@hostile.example>\r\n"
                  "Content-Type: multipart/mixed; boundary=\"big\"\r\n\r\n--big\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\n\r\nMy payment failed, see attached.\r\n"
                  "--big\r\nContent-Type: application/octet-stream; name=\"shot.bin\"\r\n"
                  "Content-Transfer-Encoding: base64\r\n"
                  "Content-Disposition: attachment; filename=\"shot.bin\"\r\n\r\n";
  m.reserve(m.size() + 920'000 * line.size() + 16);
  for (int i = 0; i < 920'000; ++i) m += line;
  m += "--big--\r\n";
  return m;
}

std::string deep_nesting() {
  constexpr int depth = 1000;
  std::string m = "From: Deep Nester <deep@hostile.example>\r\n" + common +
                  "Subject: Nested\r\nMessage-ID: <hostile-deep@hostile.example>\r\n"
                  "Content-Type: multipart/mixed; boundary=\"d0\"\r\n\r\n";
  for (int i = 0; i < depth; ++i) {
    m += "--d" + std::to_string(i) + "\r\n";
    if (i + 1 < depth)
      m += "Content-Type: multipart/mixed; boundary=\"d" + std::to_string(i + 1) + "\"\r\n\r\n";
  }
  m += "Content-Type: text/plain\r\n\r\nMy account is frozen.\r\n";
  for (int i = depth - 1; i >= 0; --i) m += "--d" + std::to_string(i) + "--\r\n";
  return m;
}

std::string invalid_base64() {
  return "From: Bad Encoder <b64@hostile.example>\r\n" + common +
         "Subject: =?utf-8?B?!!!not*base64===?= refund\r\nMessage-ID: <hostile-b64@hostile.example>\r\n"
         "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         "!!!!this is not base64 at all ====\r\nQUJD=RE\xff\xfe====\r\n@@@@\r\n";
}

std::string wrong_charsets() {
  return "From: =?x-klingon?B?SGVsbG8=?= <charset@hostile.example>\r\n" + common +
         "Subject: =?big5?Q?=E6=88=91=E7=9A=84?= =?utf-8?Q?broken=ZZ?= =?gb2312?B?////?=\r\n"
         "Message-ID: <hostile-charset@hostile.example>\r\n"
         "Content-Type: multipart/alternative; boundary=\"cs\"\r\n\r\n--cs\r\n"
         "Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         "\xe6\x88\x91\xe7\x9a\x84\xe9\x8c\xa2\xe5\x8c\x85\xe8\xa2\xab\xe5\x86\xbb\xe7\xb5\x90\r\n"
         "--cs\r\nContent-Type: text/html; charset=\"x-does-not-exist\"\r\n\r\n<p>\xc3\x28\xa0\xa1</p>\r\n"
         "--cs\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xf0\x28\x8c\x28 \xed\xa0\x80\r\n--cs--\r\n";
}

// SQL metacharacters in every field; a well-formed mail otherwise, so it is answered.
const std::string sql_sender = "o'brien--@sql.example";
const std::string sql_message_id = "x';DELETE.FROM.messages;--'@sql.example";
std::string sql_metacharacters() {
  return "From: \"Robert'); DROP TABLE threads;-- %_\\\\\" <" + sql_sender + ">\r\n" + common +
         "Subject: '; DROP TABLE messages; -- \" OR 1=1 /* withdrawal */\r\n"
         "Message-ID: <" + sql_message_id + ">\r\nIn-Reply-To: <' OR ''='@sql.example>\r\n"
         "References: <1; UPDATE threads SET status='resolved'@sql.example>\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\n"
         "My withdrawal'); DROP TABLE outbox; -- is late. 100% _sure_ \\ \" ' ; \r\n";
}

std::string headers_only() {
  return "From: Headers Only <headers@hostile.example>\r\n" + common +
         "Subject: no body\r\nMessage-ID: <hostile-nobody@hostile.example>\r\n";
}

std::string one_long_line() {
  return "From: Long Liner <long@hostile.example>\r\n" + common + "Subject: " + std::string(300'000, 'x') +
         "\r\nMessage-ID: <hostile-long@hostile.example>\r\nContent-Type: text/plain\r\n\r\n" +
         std::string(2'000'000, 'y') + "\r\n";
}

using hostile_list = std::vector<std::pair<std::string, std::string>>;

class hostile_test : public resilience_test {
 protected:
  /// Appends the hostile mail and then an ordinary customer's, runs --once: it must exit 0,
  /// record a decision for each message and answer the customer in the same or the next run.
  void run_hostile(const hostile_list& hostile) {
    instance a;
    config_ = write_config(a);
    expect_valid(config_);
    mail_factory factory(servers_->dir() / "mail", "hostile");
    for (const auto& [name, bytes] : hostile) mails_.push_back(factory.raw(name + ".eml", bytes));
    const mail normal =
        factory.make("human_zh_payment", 1, "normal@customers.example", "Normal Customer", true);
    mails_.push_back(normal);

    const auto appended_at = std::chrono::steady_clock::now();
    const auto uids = append(mails_);
    ASSERT_EQ(uids.size(), mails_.size());
    const auto run_at = std::chrono::steady_clock::now();
    auto r = once(config_);
    const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_at).count();
    EXPECT_EQ(r.exit_code, 0) << r.out;
    auto answered = [&] {
      for (const auto& m : servers_->received_messages())
        if (in_reply_to(m) == normal.message_id) return true;
      return false;
    };
    int runs = 1;
    if (!answered()) {
      ++runs;
      auto again = once(config_);
      EXPECT_EQ(again.exit_code, 0) << again.out;
    }
    std::cout << "[ hostile  ] append " << std::chrono::duration<double>(run_at - appended_at).count()
              << " s, first --once " << run_seconds << " s (exit " << r.exit_code << ")\n";
    EXPECT_TRUE(answered()) << "the ordinary message after the hostile ones was not answered in "
                            << runs << " runs";

    // Every message has exactly one ledger row with a decision.
    ledger_ = read_ledger(db_of(a));
    for (std::size_t i = 0; i < mails_.size(); ++i) {
      int rows = 0;
      std::string decision, reason;
      for (const auto& row : ledger_)
        if (row.uid == uids[i]) {
          ++rows;
          decision = row.decision;
          reason = row.reason;
          EXPECT_TRUE(is_final(row)) << mails_[i].file.filename() << " state " << row.state;
        }
      std::cout << "[ hostile  ] " << mails_[i].file.filename().string() << ": "
                << (decision.empty() ? "NO DECISION" : decision)
                << (reason.empty() ? "" : " (" + reason.substr(0, 100) + ")") << "\n";
      EXPECT_EQ(rows, 1) << mails_[i].file.filename();
      EXPECT_FALSE(decision.empty()) << mails_[i].file.filename();
    }
    // Every message got its own thread; every queued reply went out.
    EXPECT_EQ(threads(config_).size(), mails_.size());
    EXPECT_EQ(read_outbox(db_of(a)).size(), servers_->received_messages().size());
  }

  fs::path config_;
  std::vector<mail> mails_;
  std::vector<ledger_row> ledger_;
};

hostile_list malformed() {
  return {{"crlf_nul_headers", crlf_nul_headers()}, {"10k_recipients", ten_thousand_recipients()},
          {"1000_deep", deep_nesting()},           {"invalid_base64", invalid_base64()},
          {"wrong_charsets", wrong_charsets()},     {"sql_metacharacters", sql_metacharacters()},
          {"headers_only", headers_only()}};
}

TEST_F(hostile_test, MalformedMailIsRecordedAndTheNextCustomerAnswered) {
  run_hostile(malformed());

  // The SQL text is data: recorded verbatim, tables intact, and the customer answered.
  bool sql_recorded = false;
  for (const auto& row : ledger_) sql_recorded = sql_recorded || row.message_id == sql_message_id;
  EXPECT_TRUE(sql_recorded);
  int sql_replies = 0;
  for (const auto& m : servers_->received_messages())
    sql_replies += m.rcpt_tos == std::vector<std::string>{sql_sender};
  EXPECT_EQ(sql_replies, 1);

  // No reply ever goes to an address smuggled in through headers or to the other recipients,
  // and no hostile byte reaches our replies (NUL, bare CR or LF, injected header lines).
  for (const auto& m : servers_->received_messages()) {
    EXPECT_EQ(m.data.find('\0'), std::string::npos) << m.file;
    for (std::size_t i = 0; i < m.data.size(); ++i) {
      if (m.data[i] == '\r') {
        EXPECT_TRUE(i + 1 < m.data.size() && m.data[i + 1] == '\n') << m.file << " bare CR";
      }
      if (m.data[i] == '\n') {
        EXPECT_TRUE(i > 0 && m.data[i - 1] == '\r') << m.file << " bare LF";
      }
    }
    const std::string head = "\r\n" + m.data.substr(0, m.data.find("\r\n\r\n"));
    EXPECT_EQ(head.find("\r\nBcc:"), std::string::npos) << m.file;
    EXPECT_EQ(head.find("\r\nbcc:"), std::string::npos) << m.file;
    for (const auto& rcpt : m.rcpt_tos) {
      EXPECT_EQ(rcpt.find("evil.example"), std::string::npos) << rcpt;
      EXPECT_EQ(rcpt.find("many.example"), std::string::npos) << rcpt;
    }
  }
}

// A message whose FETCH response exceeds the transport's 64 MiB limit (a 50 MB attachment is
// ~68 MB in base64) fails with a permanent error: it is retried max_attempts times, then
// quarantined for an agent, and the rest of the mailbox keeps flowing in the same run.
TEST_F(hostile_test, FiftyMegabyteAttachmentIsRecordedAndDoesNotBlockTheMailbox) {
  run_hostile({{"50mb_attachment", fifty_megabyte_attachment()}});
}

// A message with a 300,000-byte Subject line (2.3 MB in all) after the malformed set above. Its
// UID FETCH used to fail with libcurl 7.88's "Too large response headers: 524288 > 307200"
// (Debian's backport counts the part of the literal read together with the FETCH line against
// a 300 KiB limit; the session had grown its TCP window on the earlier mail), so the run exited
// 1 and the message waited for the next one. It is now fetched, and recorded, in one run.
TEST_F(hostile_test, VeryLongHeaderLineAfterOtherMailIsHandledInOneRun) {
  hostile_list all = malformed();
  all.emplace_back("one_long_line", one_long_line());
  run_hostile(all);
}

}  // namespace
}  // namespace supportd::test::resilience
