// html_to_text and strip_quotes_and_signature on plain strings.
#include "supportd/mime/message.hpp"

#include <gtest/gtest.h>

#include <string>

namespace supportd::mime {
namespace {

TEST(mime_html_to_text, DropsScriptsStylesAndComments) {
  const std::string t = html_to_text(
      "<html><head><style>p{color:red}</style><script>var x = '<p>';</script></head>"
      "<body><!-- hidden <p> -->Visible</body></html>");
  EXPECT_EQ(t, "Visible");
}

TEST(mime_html_to_text, BlocksBecomeLines) {
  EXPECT_EQ(html_to_text("<div>one</div><div>two<br>three</div><ul><li>a</li><li>b</li></ul>"),
            "one\ntwo\nthree\na\nb");
  EXPECT_EQ(html_to_text("<p>para one</p><p>para two</p>"), "para one\n\npara two");
  EXPECT_EQ(html_to_text("<h1>Title</h1>text"), "Title\ntext");
}

TEST(mime_html_to_text, DecodesEntities) {
  EXPECT_EQ(html_to_text("a&nbsp;b &amp; c &lt;d&gt; &quot;e&quot; &euro;5 &#20320;&#x597D; &copy;"),
            "a b & c <d> \"e\" €5 你好 ©");
  EXPECT_EQ(html_to_text("AT&T &unknown; a < b"), "AT&T &unknown; a < b");
}

TEST(mime_html_to_text, CollapsesWhitespace) {
  EXPECT_EQ(html_to_text("  lots \n\n of\t\tspace  "), "lots of space");
  EXPECT_EQ(html_to_text("<td>a</td><td>b</td>"), "a b");
}

TEST(mime_html_to_text, BlockquoteBecomesQuotedLines) {
  const std::string t = html_to_text("<div>Thanks</div><blockquote>old text<br>more</blockquote>");
  EXPECT_EQ(t, "Thanks\n\n> old text\n> more");
  EXPECT_EQ(strip_quotes_and_signature(t), "Thanks");
}

TEST(mime_strip_quotes, GreaterThanLines) {
  EXPECT_EQ(strip_quotes_and_signature("> old\n>> older\nnew text\n"), "new text");
}

TEST(mime_strip_quotes, InterleavedReplyKeepsAnswers) {
  const std::string body =
      "On Mon, 3 Mar 2025 at 10:00, Support <s@example.com> wrote:\n"
      "> What is your order number?\n"
      "It is 55120-AX.\n"
      "> And the amount?\n"
      "$20\n";
  EXPECT_EQ(strip_quotes_and_signature(body), "It is 55120-AX.\n$20");
}

TEST(mime_strip_quotes, GmailAttributionWrappedOverTwoLines) {
  const std::string body =
      "Still waiting.\n\nOn Thu, 6 Mar 2025 at 09:56, OKPay Support <support@example.com>\n"
      "wrote:\n> Hello\n";
  EXPECT_EQ(strip_quotes_and_signature(body), "Still waiting.");
}

TEST(mime_strip_quotes, ChineseAttributions) {
  EXPECT_EQ(strip_quotes_and_signature("好的\n在 2025年1月16日周四 11:06，客服 <s@example.com> 写道：\n> 您好"), "好的");
  EXPECT_EQ(strip_quotes_and_signature("收到\n张三 <z@example.com> 于2025年1月16日周四 上午11:06写道：\n原文"), "收到");
  EXPECT_EQ(strip_quotes_and_signature("仍未回覆\n於 2025年2月24日 週一 上午10:15，陳 <c@example.net> 寫道：\n> 您好"),
            "仍未回覆");
}

TEST(mime_strip_quotes, OriginalMessageSeparators) {
  EXPECT_EQ(strip_quotes_and_signature("new\n-----Original Message-----\nFrom: x\nold"), "new");
  EXPECT_EQ(strip_quotes_and_signature("新内容\n-----原始邮件-----\n旧内容"), "新内容");
  EXPECT_EQ(strip_quotes_and_signature("新内容\n\n------------------ 原始邮件 ------------------\n发件人: a\n"), "新内容");
}

TEST(mime_strip_quotes, OutlookHeaderBlocks) {
  EXPECT_EQ(strip_quotes_and_signature(
                "Please help.\n\n________________________________\nFrom: OKPay <n@example.com>\n"
                "Sent: Monday, February 24, 2025 6:03 AM\nTo: a@example.com\nSubject: x\n\nold"),
            "Please help.");
  EXPECT_EQ(strip_quotes_and_signature("请处理\n发件人: 客服 <s@example.com>\n发送时间: 2025年2月13日\n收件人: 我\n主题: 回复\n旧"),
            "请处理");
  // A lone "From:" line in the customer's own words is not a quote.
  EXPECT_EQ(strip_quotes_and_signature("From: my bank statement\nI paid 20 EUR."),
            "From: my bank statement\nI paid 20 EUR.");
}

TEST(mime_strip_quotes, SignatureDashes) {
  EXPECT_EQ(strip_quotes_and_signature("text\n-- \nBob\nPhone 123"), "text");
  EXPECT_EQ(strip_quotes_and_signature("text\r\n--\r\nBob"), "text");
  EXPECT_EQ(strip_quotes_and_signature("a -- b\n---\nkept"), "a -- b\n---\nkept");
}

TEST(mime_strip_quotes, CollapsesBlankLines) {
  EXPECT_EQ(strip_quotes_and_signature("\n\na\n\n\n\nb\n\n"), "a\n\nb");
}

}  // namespace
}  // namespace supportd::mime
