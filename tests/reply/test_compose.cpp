#include <gtest/gtest.h>

#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "supportd/reply/compose.hpp"

using supportd::reply::compose;
using supportd::reply::format_date;
using supportd::reply::format_mailbox;
using supportd::reply::mailbox;
using supportd::reply::outgoing_message;
using supportd::reply::parse_mailbox;

namespace {

// ---- minimal decoders, just enough to read our own output back -------------------------------

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : in) {
    const int v = base64_value(c);
    if (v < 0) continue;  // padding, line breaks
    buffer = (buffer << 6U) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU);
    }
  }
  return out;
}

std::string qp_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && i + 2 < in.size() && in[i + 1] == '\r' && in[i + 2] == '\n') {
      i += 2;  // soft line break
    } else if (in[i] == '=' && i + 2 < in.size()) {
      out += static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// RFC 2047 decoding of "=?utf-8?B?...?=" words; white space between two encoded-words is
// dropped (§6.2), other text kept.
std::string decode_words(std::string_view value) {
  std::string out;
  std::string pending_space;
  bool last_was_word = false;
  std::size_t i = 0;
  while (i < value.size()) {
    if (value.compare(i, 10, "=?utf-8?B?") == 0) {
      const std::size_t end = value.find("?=", i + 10);
      if (end == std::string_view::npos) break;
      if (!last_was_word) out += pending_space;
      pending_space.clear();
      out += base64_decode(value.substr(i + 10, end - i - 10));
      i = end + 2;
      last_was_word = true;
    } else if (value[i] == ' ') {
      pending_space += ' ';
      ++i;
    } else {
      out += pending_space;
      pending_space.clear();
      out += value[i];
      last_was_word = false;
      ++i;
    }
  }
  return out + (last_was_word ? "" : pending_space);
}

struct parsed {
  std::vector<std::string> raw_header_lines;
  std::vector<std::pair<std::string, std::string>> fields;  // unfolded
  std::string body;

  [[nodiscard]] std::vector<std::string> all(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [n, v] : fields) {
      if (n == name) out.push_back(v);
    }
    return out;
  }
  [[nodiscard]] std::string one(std::string_view name) const {
    const auto v = all(name);
    return v.size() == 1 ? v[0] : "<" + std::to_string(v.size()) + " fields>";
  }
  [[nodiscard]] bool has(std::string_view name) const { return !all(name).empty(); }
};

parsed parse(const std::string& msg) {
  parsed p;
  const auto split = msg.find("\r\n\r\n");
  EXPECT_NE(split, std::string::npos);
  p.body = msg.substr(split + 4);
  std::istringstream in(msg.substr(0, split + 2));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    p.raw_header_lines.push_back(line);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      EXPECT_FALSE(p.fields.empty());
      if (!p.fields.empty()) p.fields.back().second += line;  // RFC 5322 §2.2.3 unfolding
      continue;
    }
    const auto colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    p.fields.emplace_back(line.substr(0, colon), value);
  }
  return p;
}

bool only_crlf(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n')) return false;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
  }
  return true;
}

std::size_t longest_line(const std::string& s) {
  std::size_t longest = 0;
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t end = s.find("\r\n", start);
    if (end == std::string::npos) end = s.size();
    longest = std::max(longest, end - start);
    start = end + 2;
  }
  return longest;
}

outgoing_message sample() {
  outgoing_message m;
  m.from = {"OKPay 客服团队", "support@okpay-wallet.example"};
  m.to = {{"张三", "zhangsan@example.com"}};
  m.subject = "Re: 我的提现已经三天了还没有到账，请尽快帮我查一下到底是什么原因，谢谢！";
  m.message_id = "reply-1@okpay-wallet.example";
  m.in_reply_to = "orig-1@mail.example.com";
  m.references = {"root@mail.example.com"};
  m.date = "Wed, 18 Nov 2026 11:06:40 +0000";
  m.extra_headers = {{"Auto-Submitted", "auto-replied"}, {"X-Auto-Response-Suppress", "All"}};
  m.body_text = "张三，您好：\n\n感谢您联系 OKPay 客服。\n\nOKPay 客服团队\n";
  return m;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(ReplyCompose, HeadersInOrderAndMimeLabels) {
  const auto p = parse(compose(sample()));
  std::vector<std::string> names;
  for (const auto& [n, v] : p.fields) names.push_back(n);
  const std::vector<std::string> expected{"From",           "To",
                                          "Subject",        "Date",
                                          "Message-ID",     "In-Reply-To",
                                          "References",     "MIME-Version",
                                          "Content-Type",   "Content-Transfer-Encoding",
                                          "Auto-Submitted", "X-Auto-Response-Suppress"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(p.one("MIME-Version"), "1.0");
  EXPECT_EQ(p.one("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(p.one("Message-ID"), "<reply-1@okpay-wallet.example>");
  EXPECT_EQ(p.one("In-Reply-To"), "<orig-1@mail.example.com>");
  EXPECT_EQ(p.one("References"), "<root@mail.example.com> <orig-1@mail.example.com>");
  EXPECT_EQ(p.one("Date"), "Wed, 18 Nov 2026 11:06:40 +0000");
  EXPECT_EQ(p.one("Auto-Submitted"), "auto-replied");
}

TEST(ReplyCompose, MatchesGoldenMessage) {
  const std::string golden = read_file(SUPPORTD_TEST_DATA "/reply/golden_zh_reply.eml");
  ASSERT_FALSE(golden.empty());
  EXPECT_EQ(compose(sample()), golden);
}

TEST(ReplyCompose, NonAsciiSubjectIsEncodedFoldedAndDecodesBack) {
  const auto m = sample();
  const std::string msg = compose(m);
  const auto p = parse(msg);
  const std::string subject = p.one("Subject");
  EXPECT_EQ(subject.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=?- "),
            std::string::npos)
      << subject;
  EXPECT_EQ(decode_words(subject), m.subject);
  // Each encoded-word at most 75 characters (RFC 2047 §2), each header line at most 78.
  std::istringstream words(subject);
  std::string word;
  int count = 0;
  while (words >> word) {
    EXPECT_LE(word.size(), 75u) << word;
    EXPECT_TRUE(word.starts_with("=?utf-8?B?") && word.ends_with("?=")) << word;
    // Every encoded-word holds whole UTF-8 characters (RFC 2047 §5).
    const std::string chunk = base64_decode(word.substr(10, word.size() - 12));
    ASSERT_FALSE(chunk.empty());
    EXPECT_NE(static_cast<unsigned char>(chunk.front()) & 0xC0U, 0x80U);
    ++count;
  }
  EXPECT_GT(count, 1);  // long enough to need folding
  for (const auto& line : p.raw_header_lines) EXPECT_LE(line.size(), 78u) << line;
}

TEST(ReplyCompose, AsciiSubjectStaysReadableAndFolds) {
  auto m = sample();
  m.subject =
      "Re: My withdrawal of 500 USD from last Monday still has not arrived in my bank account, "
      "please check what is going on with it";
  const auto p = parse(compose(m));
  EXPECT_EQ(p.one("Subject"), m.subject);
  for (const auto& line : p.raw_header_lines) EXPECT_LE(line.size(), 78u) << line;
}

TEST(ReplyCompose, SubjectThatLooksEncodedIsEncoded) {
  auto m = sample();
  m.subject = "Re: =?utf-8?B?5byg?= literal";
  const auto p = parse(compose(m));
  EXPECT_EQ(decode_words(p.one("Subject")), m.subject);
}

TEST(ReplyCompose, HeaderInjectionIsNeutralised) {
  auto m = sample();
  m.subject = "hi\r\nBcc: victim@x";
  m.to = {{"Evil\r\nBcc: victim@x", "a@b.example\r\nBcc: victim@x"}};
  m.from.name = std::string("Support\0\nX-Evil: 1", 18);
  m.message_id = "id@x\r\nBcc: victim@x";
  m.in_reply_to = "p@x\nBcc: victim@x";
  m.references = {"r@x\rBcc: victim@x"};
  m.date = "Wed, 18 Nov 2026 11:06:40 +0000\r\nBcc: victim@x";
  m.extra_headers = {{"X-Test", "v\r\nBcc: victim@x"},
                     {"X-Evil\r\nBcc", "victim@x"},
                     {"Bcc", "victim@x"},
                     {"Subject", "second subject"}};
  const std::string msg = compose(m);
  EXPECT_TRUE(only_crlf(msg));
  EXPECT_EQ(msg.find('\0'), std::string::npos);
  const auto p = parse(msg);
  EXPECT_FALSE(p.has("Bcc"));
  EXPECT_FALSE(p.has("X-Evil"));
  EXPECT_EQ(p.all("Subject").size(), 1u);
  for (const auto& line : p.raw_header_lines) {
    EXPECT_FALSE(line.starts_with("Bcc")) << line;
  }
  EXPECT_EQ(p.one("Subject"), "hi Bcc: victim@x");
  EXPECT_EQ(p.one("X-Test"), "v Bcc: victim@x");
  EXPECT_EQ(p.one("Message-ID"), "<id@xBcc:victim@x>");
}

TEST(ReplyCompose, BodyUsesCrlfOnly) {
  auto m = sample();
  m.body_text = "line1\nline2\r\nline3\rline4\n\n\x01tail";
  const std::string msg = compose(m);
  EXPECT_TRUE(only_crlf(msg));
  const auto p = parse(msg);
  EXPECT_EQ(p.one("Content-Transfer-Encoding"), "7bit");
  EXPECT_EQ(p.body, "line1\r\nline2\r\nline3\r\nline4\r\n\r\ntail\r\n");
}

TEST(ReplyCompose, ChineseBodyRoundTrips) {
  const auto m = sample();
  const std::string msg = compose(m);
  EXPECT_TRUE(only_crlf(msg));
  const auto p = parse(msg);
  const std::string cte = p.one("Content-Transfer-Encoding");
  ASSERT_TRUE(cte == "base64" || cte == "quoted-printable") << cte;
  const std::string decoded = cte == "base64" ? base64_decode(p.body) : qp_decode(p.body);
  EXPECT_EQ(decoded, "张三，您好：\r\n\r\n感谢您联系 OKPay 客服。\r\n\r\nOKPay 客服团队\r\n");
  EXPECT_LE(longest_line(p.body), 76u);
}

TEST(ReplyCompose, LongLinesAreQuotedPrintable) {
  auto m = sample();
  const std::string long_line(2500, 'x');
  m.body_text = "Hello =\n" + long_line + "\ntrailing space \nend";
  const std::string msg = compose(m);
  EXPECT_TRUE(only_crlf(msg));
  EXPECT_LE(longest_line(msg), 998u);
  const auto p = parse(msg);
  EXPECT_EQ(p.one("Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_LE(longest_line(p.body), 76u);
  EXPECT_EQ(qp_decode(p.body), "Hello =\r\n" + long_line + "\r\ntrailing space \r\nend\r\n");
  EXPECT_NE(p.body.find("trailing space=20"), std::string::npos);
}

TEST(ReplyCompose, EmptyInReplyToOmitsThreadHeaders) {
  auto m = sample();
  m.in_reply_to.clear();
  m.references.clear();
  const auto p = parse(compose(m));
  EXPECT_FALSE(p.has("In-Reply-To"));
  EXPECT_FALSE(p.has("References"));
}

TEST(ReplyCompose, ReferencesKeepRootAndRecentIds) {
  auto m = sample();
  m.references.clear();
  for (int i = 0; i < 30; ++i) m.references.push_back("r" + std::to_string(i) + "@x.example");
  m.references.push_back("<orig-1@mail.example.com>");  // already there: not repeated
  const std::string msg = compose(m);
  const auto p = parse(msg);
  std::istringstream ids(p.one("References"));
  std::vector<std::string> got;
  std::string id;
  while (ids >> id) got.push_back(id);
  ASSERT_EQ(got.size(), 11u);
  EXPECT_EQ(got.front(), "<r0@x.example>");
  EXPECT_EQ(got[1], "<r21@x.example>");
  EXPECT_EQ(got.back(), "<orig-1@mail.example.com>");
  for (const auto& line : p.raw_header_lines) EXPECT_LE(line.size(), 78u) << line;
}

TEST(ReplyCompose, GeneratesMessageIdAndDate) {
  auto m = sample();
  m.message_id.clear();
  m.date.clear();
  const auto p = parse(compose(m));
  const std::string id = p.one("Message-ID");
  EXPECT_TRUE(id.starts_with("<"));
  EXPECT_TRUE(id.ends_with("@okpay-wallet.example>")) << id;
  EXPECT_TRUE(p.one("Date").ends_with(" +0000")) << p.one("Date");
  EXPECT_NE(compose(m), compose(m));  // ids are unique
}

TEST(ReplyCompose, FormatDate) {
  EXPECT_EQ(format_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(format_date(1795000000), "Wed, 18 Nov 2026 11:06:40 +0000");
  EXPECT_EQ(format_date(951782400), "Tue, 29 Feb 2000 00:00:00 +0000");
  EXPECT_EQ(format_date(4102444799), "Thu, 31 Dec 2099 23:59:59 +0000");
}

TEST(ReplyCompose, FormatMailbox) {
  EXPECT_EQ(format_mailbox({"OKPay Support", "support@okpay-wallet.example"}),
            "OKPay Support <support@okpay-wallet.example>");
  EXPECT_EQ(format_mailbox({"", "a@b.example"}), "<a@b.example>");
  EXPECT_EQ(format_mailbox({"Smith, John", "j@x.example"}), "\"Smith, John\" <j@x.example>");
  EXPECT_EQ(format_mailbox({"J. R. \"Bob\" O\\Neil", "b@x.example"}),
            "\"J. R. \\\"Bob\\\" O\\\\Neil\" <b@x.example>");
  EXPECT_EQ(format_mailbox({"张三", "a@b.example"}), "=?utf-8?B?5byg5LiJ?= <a@b.example>");
  EXPECT_EQ(decode_words(format_mailbox({"OKPay 客服团队", "s@x"})), "OKPay 客服团队 <s@x>");
  EXPECT_EQ(format_mailbox({"Eve\r\n", "e@x\r\nBcc: v@x"}), "Eve <e@xBcc:v@x>");
}

TEST(ReplyCompose, ParseMailbox) {
  const auto a = parse_mailbox("OKPay Support <support@OKPay-Wallet.example>");
  EXPECT_EQ(a.name, "OKPay Support");
  EXPECT_EQ(a.address, "support@okpay-wallet.example");

  const auto b = parse_mailbox("\"Quoted, Name\" <a@b.example>");
  EXPECT_EQ(b.name, "Quoted, Name");
  EXPECT_EQ(b.address, "a@b.example");

  const auto c = parse_mailbox("  a@b.example  ");
  EXPECT_EQ(c.name, "");
  EXPECT_EQ(c.address, "a@b.example");

  const auto d = parse_mailbox("a@b.example (Support Desk)");
  EXPECT_EQ(d.name, "Support Desk");
  EXPECT_EQ(d.address, "a@b.example");

  const auto e = parse_mailbox("<only@addr.example>");
  EXPECT_EQ(e.name, "");
  EXPECT_EQ(e.address, "only@addr.example");

  const auto f = parse_mailbox("\"Esc \\\"q\\\"\" <q@x.example>");
  EXPECT_EQ(f.name, "Esc \"q\"");

  EXPECT_EQ(parse_mailbox("not an address").address, "");
  EXPECT_EQ(parse_mailbox("").address, "");
  EXPECT_EQ(parse_mailbox("Name <>").address, "");
}

TEST(ReplyCompose, MailboxRoundTrip) {
  for (const mailbox& mb : std::vector<mailbox>{
           {"Smith, John", "j@x.example"}, {"OKPay Support", "s@x.example"}, {"", "n@x.example"}}) {
    const auto back = parse_mailbox(format_mailbox(mb));
    EXPECT_EQ(back.name, mb.name);
    EXPECT_EQ(back.address, mb.address);
  }
}

TEST(ReplyCompose, InvalidUtf8NeverReachesOutput) {
  auto m = sample();
  m.subject = "Re: bad \xff\xfe bytes \xe4\xb8";
  m.body_text = "body \xc3\x28 end\n";
  const auto p = parse(compose(m));
  EXPECT_EQ(decode_words(p.one("Subject")),
            "Re: bad \xEF\xBF\xBD\xEF\xBF\xBD bytes \xEF\xBF\xBD\xEF\xBF\xBD");
  const std::string cte = p.one("Content-Transfer-Encoding");
  const std::string body = cte == "base64" ? base64_decode(p.body) : qp_decode(p.body);
  EXPECT_EQ(body, "body \xEF\xBF\xBD( end\r\n");
}
