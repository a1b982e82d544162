// parse_message on small .eml files and generated hostile input.
#include "supportd/mime/message.hpp"

#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace supportd::mime {
namespace {

using test::contains;
using test::read_data;

parsed_message parse_ok(const std::string& name) {
  const std::string raw = read_data(name);
  EXPECT_FALSE(raw.empty()) << name << " missing";
  auto r = parse_message(raw);
  EXPECT_TRUE(r.has_value()) << name << ": " << (r ? "" : r.error().detail);
  return r ? std::move(*r) : parsed_message{};
}

TEST(mime_parse_message, AlternativePrefersPlainAndParsesAddresses) {
  const parsed_message m = parse_ok("alternative.eml");
  EXPECT_EQ(m.subject, "充值未到账");
  EXPECT_EQ(m.content_type, "multipart/alternative");
  EXPECT_EQ(m.body_text, "纯文本版本：充值未到账。\n");
  EXPECT_EQ(m.body_charset, "utf-8");
  ASSERT_TRUE(m.from.has_value());
  EXPECT_EQ(m.from->name, "张三");
  EXPECT_EQ(m.from->address, "zhangsan@mail.example.cn");
  ASSERT_TRUE(m.reply_to.has_value());
  EXPECT_EQ(m.reply_to->address, "replies@example.cn");
  ASSERT_EQ(m.to.size(), 2U);
  EXPECT_EQ(m.to[0].name, "Support Team");
  EXPECT_EQ(m.to[1].name, "Doe, John");
  EXPECT_EQ(m.to[1].address, "john@example.org");
  ASSERT_EQ(m.cc.size(), 2U);
  EXPECT_EQ(m.cc[1].name, "Jürgen");
  EXPECT_EQ(m.cc[1].address, "juergen@example.de");
  EXPECT_EQ(m.message_id, "alt-1@example.cn");
  EXPECT_EQ(m.in_reply_to, "ar.1@example.com");
  ASSERT_EQ(m.references.size(), 2U);
  EXPECT_EQ(m.references[0], "orig-0@example.cn");
  EXPECT_EQ(m.references[1], "ar.1@example.com");
  EXPECT_FALSE(m.return_path.has_value());
  EXPECT_TRUE(m.has_header("MESSAGE-id"));
  EXPECT_EQ(m.header("subject").value_or(""), "充值未到账");
  EXPECT_FALSE(m.header("X-Missing").has_value());
}

TEST(mime_parse_message, HtmlOnly) {
  const parsed_message m = parse_ok("html_only.eml");
  EXPECT_EQ(m.content_type, "text/html");
  EXPECT_EQ(m.body_text, "Hello there & welcome\n\nPrice: €5 <cheap> 你好\n\nLine one\nLine two\nLine three\nfirst\nsecond");
  EXPECT_FALSE(contains(m.body_text, "alert"));
  EXPECT_FALSE(contains(m.body_text, "color"));
  EXPECT_FALSE(contains(m.body_text, "Ignore me"));
}

struct charset_case {
  const char* file;
  const char* charset;
  const char* text;
};

TEST(mime_parse_message, EachCharset) {
  const charset_case cases[] = {
      {"charset_gb2312.eml", "gb18030", "我的提现还没有到账，请帮忙查询。"},
      {"charset_gbk_base64.eml", "gb18030", "充值失败，银行卡已扣款。"},
      {"charset_big5_qp.eml", "big5", "請問我的帳戶為什麼被凍結？"},
      {"charset_shift_jis.eml", "shift_jis", "お問い合わせありがとうございます。"},
      {"charset_euc_kr.eml", "euc-kr", "계정이 잠겼습니다."},
      {"charset_iso2022jp.eml", "iso-2022-jp", "返金をお願いします。"},
      {"charset_koi8r.eml", "koi8-r", "Мой платёж не прошёл."},
      {"charset_latin1.eml", "windows-1252", "Café à Zürich, merci beaucoup."},
      {"charset_windows1251.eml", "windows-1251", "Здравствуйте, деньги не пришли."},
  };
  for (const auto& c : cases) {
    const parsed_message m = parse_ok(c.file);
    EXPECT_EQ(m.body_text, std::string(c.text) + "\n") << c.file;
    EXPECT_EQ(m.body_charset, c.charset) << c.file;
    EXPECT_TRUE(m.defects.empty()) << c.file << ": " << (m.defects.empty() ? "" : m.defects.front());
    ASSERT_TRUE(m.from.has_value());
    EXPECT_EQ(m.from->address, "tester@example.com");
  }
}

TEST(mime_parse_message, UnknownCharsetIsGuessedAndRecorded) {
  const parsed_message m = parse_ok("charset_unknown.eml");
  EXPECT_EQ(m.body_text, "Grüße aus Köln\n");
  ASSERT_FALSE(m.defects.empty());
  EXPECT_EQ(m.defects.front(), "unknown charset x-foo");
}

TEST(mime_parse_message, QuoteStylesLeaveOnlyNewText) {
  EXPECT_EQ(parse_ok("quote_gmail.eml").new_text, "It has been 6 days and nobody answered.\n\nSofia");
  EXPECT_EQ(parse_ok("quote_outlook.eml").new_text, "Please lift the restriction.\n\nAhmed");
  EXPECT_EQ(parse_ok("quote_foxmail.eml").new_text, "你好，我的邮件到现在都没有回复。");
  const parsed_message zh = parse_ok("quote_chinese.eml");
  EXPECT_EQ(zh.new_text, "已经到账了，谢谢！");
  EXPECT_TRUE(contains(zh.body_text, "写道"));
}

TEST(mime_parse_message, SignatureRemoved) {
  const parsed_message m = parse_ok("signature.eml");
  EXPECT_EQ(m.new_text, "My card was declined twice today.\nPlease check.");
  EXPECT_TRUE(contains(m.body_text, "Bob Example"));
}

TEST(mime_parse_message, LineEndingsCrlfLfAndCrOnly) {
  for (const char* f : {"endings_crlf.eml", "endings_lf.eml", "endings_cr.eml"}) {
    const parsed_message m = parse_ok(f);
    EXPECT_EQ(m.subject, "Line endings ✓ folded part") << f;
    EXPECT_EQ(m.content_type, "multipart/mixed") << f;
    EXPECT_EQ(m.body_text, "first line continued\nsecond line") << f;
    ASSERT_TRUE(m.from.has_value()) << f;
    EXPECT_EQ(m.from->address, "lines@example.com") << f;
    EXPECT_EQ(m.headers.size(), 5U) << f;
  }
}

TEST(mime_parse_message, BounceReportTakesHumanPartAndNullReturnPath) {
  const parsed_message m = parse_ok("bounce_report.eml");
  ASSERT_TRUE(m.return_path.has_value());
  EXPECT_EQ(*m.return_path, "");
  EXPECT_EQ(m.content_type, "multipart/report");
  EXPECT_EQ(m.body_text, "This is the mail system. Your message could not be delivered.");
  ASSERT_TRUE(m.from.has_value());
  EXPECT_EQ(m.from->address, "MAILER-DAEMON@mx.example.com");
}

TEST(mime_parse_message, AttachmentSkippedAndForwardedMessageUsedWhenNothingElse) {
  const parsed_message m = parse_ok("forward_only.eml");
  EXPECT_EQ(m.body_text, "Inner forwarded text.");
}

TEST(mime_parse_message, HostileHeadersAreNeutralised) {
  const parsed_message m = parse_ok("hostile_headers.eml");
  for (const auto& h : m.headers) {
    EXPECT_EQ(h.value.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << h.name;
  }
  EXPECT_EQ(m.subject.find_first_of(std::string("\r\n\0", 3)), std::string::npos);
  EXPECT_TRUE(contains(m.subject, "Bcc: victim@example.com"));
  ASSERT_TRUE(m.from.has_value());
  EXPECT_EQ(m.from->address, "evil@example.com");
  // Invalid base64 is decoded as far as possible and recorded.
  ASSERT_FALSE(m.defects.empty());
  EXPECT_EQ(m.defects.front(), "invalid base64");
  EXPECT_TRUE(contains(m.body_text, "Hello"));
}

TEST(mime_parse_message, Raw8BitHeadersAndBodyGuessed) {
  const parsed_message m = parse_ok("raw_8bit_header.eml");
  EXPECT_EQ(m.subject, "我的账户被冻结了");
  ASSERT_TRUE(m.from.has_value());
  EXPECT_EQ(m.from->name, "张三");
  EXPECT_EQ(m.body_text, "账户被冻结了，请尽快处理。\n");
  EXPECT_EQ(m.body_charset, "gb18030");
}

TEST(mime_parse_message, ReturnPathForms) {
  auto a = parse_message("Return-Path: <Bounce@Example.COM>\r\nSubject: x\r\n\r\nbody");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->return_path.value_or("?"), "Bounce@example.com");
  auto b = parse_message("Return-Path: < >\r\nSubject: x\r\n\r\nbody");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->return_path.value_or("?"), "");
}

TEST(mime_parse_message, NoHeaders) {
  auto r = parse_message("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, parse_errc::no_headers);
  auto r2 = parse_message("just some text without any header\nsecond line\n");
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, parse_errc::no_headers);
}

TEST(mime_hostile, ThousandDeepNestingIsRejected) {
  std::string msg = "From: a@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n";
  for (int i = 0; i < 1000; ++i) {
    msg += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  msg += "Content-Type: text/plain\r\n\r\nbottom\r\n";
  auto r = parse_message(msg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, parse_errc::too_deep);

  // message/rfc822 nesting counts too.
  std::string msg2 = "From: a@example.com\r\nSubject: deep\r\n";
  for (int i = 0; i < 1000; ++i) msg2 += "Content-Type: message/rfc822\r\n\r\nSubject: level\r\n";
  auto r2 = parse_message(msg2);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, parse_errc::too_deep);
}

TEST(mime_hostile, NestingWithinLimitParses) {
  std::string msg = "From: a@example.com\r\nSubject: nested\r\nMIME-Version: 1.0\r\n";
  constexpr int depth = 10;
  for (int i = 0; i < depth; ++i) {
    msg += "Content-Type: multipart/mixed; boundary=\"b" + std::to_string(i) + "\"\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  }
  msg += "Content-Type: text/plain\r\n\r\nbottom\r\n";
  for (int i = depth - 1; i >= 0; --i) msg += "--b" + std::to_string(i) + "--\r\n";
  auto r = parse_message(msg);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->body_text, "bottom");
}

TEST(mime_hostile, HugeMessageIsTooLarge) {
  std::string msg = "From: a@example.com\r\nSubject: huge\r\n\r\n";
  msg.append(26 * 1024 * 1024, 'x');
  auto r = parse_message(msg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, parse_errc::too_large);

  parse_limits small;
  small.max_message_bytes = 1000;
  auto r2 = parse_message(std::string(1001, 'a'), small);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, parse_errc::too_large);
}

TEST(mime_hostile, HugeHeaderIsTooLarge) {
  std::string msg = "From: a@example.com\r\nX-Junk: ";
  msg.append(300 * 1024, 'j');
  msg += "\r\n\r\nbody";
  auto r = parse_message(msg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, parse_errc::too_large);
}

TEST(mime_hostile, LongBodyLinesAndBodyCap) {
  std::string msg = "From: a@example.com\r\nSubject: long\r\n\r\n";
  msg.append(3 * 1024 * 1024, 'y');
  parse_limits limits;
  limits.max_body_text_bytes = 1000;
  auto r = parse_message(msg, limits);
  ASSERT_TRUE(r);
  EXPECT_LE(r->body_text.size(), 1000U);
}

TEST(mime_hostile, TooManyParts) {
  std::string msg = "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n";
  for (int i = 0; i < 300; ++i) msg += "--p\r\nContent-Type: text/plain\r\n\r\npart\r\n";
  msg += "--p--\r\n";
  auto r = parse_message(msg);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, parse_errc::too_many_parts);
}

TEST(mime_hostile, TenThousandRecipients) {
  std::string msg = "From: a@example.com\r\nSubject: many\r\nTo: ";
  for (int i = 0; i < 10000; ++i) {
    if (i > 0) msg += ",\r\n ";
    msg += "u" + std::to_string(i) + "@Ex.com";
  }
  msg += "\r\n\r\nhello\r\n";
  auto r = parse_message(msg);
  ASSERT_TRUE(r) << r.error().detail;
  ASSERT_EQ(r->to.size(), 10000U);
  EXPECT_EQ(r->to[9999].address, "u9999@ex.com");
}

TEST(mime_hostile, MalformedMultipartsNeverThrow) {
  const std::string inputs[] = {
      "Content-Type: multipart/mixed\r\n\r\n--\r\n--\r\n----\r\n",
      "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\nx\r\n",
      "Content-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n--a--",
      "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--a\r\n--b--\r\n-",
      "Content-Type: message/rfc822\r\n\r\n",
      "Content-Type: text/plain; charset=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n=",
      "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a",
      "Subject: =?utf-8?B?\r\n\r\n",
      ":\r\n\r\n",
      "\r\n\r\n\r\n",
      // 17 bytes: the length must not count the literal's terminator (ASan: read past the end).
      std::string("From: a\0b@x\r\n\r\n\0\0", 17),
  };
  for (const auto& in : inputs) {
    EXPECT_NO_THROW({ auto r = parse_message(in); (void)r; });
  }
}

// A msg-id written without angle brackets, with a comment (the fallback path once read a
// destroyed temporary: long ids came back as garbage).
TEST(mime_parse_message, MessageIdWithoutBracketsAndComment) {
  const std::string raw =
      "From: a@example.com\r\nTo: support@okpay-wallet.example\r\n"
      "Message-ID: 201002191008.30117.a.rather.long.local.part@mail.example.com (sent by bot)\r\n"
      "In-Reply-To: another.long.identifier.1234567890@mail.example.com\r\n"
      "Subject: hi\r\n\r\nbody\r\n";
  auto m = parse_message(raw);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->message_id, "201002191008.30117.a.rather.long.local.part@mail.example.com");
  EXPECT_EQ(m->in_reply_to, "another.long.identifier.1234567890@mail.example.com");
}

}  // namespace
}  // namespace supportd::mime
