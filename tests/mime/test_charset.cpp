// Charset conversion (to_utf8) and RFC 2047 header decoding (decode_header_value).
#include "supportd/mime/message.hpp"

#include <gtest/gtest.h>

#include <string>

namespace supportd::mime {
namespace {

constexpr std::string_view fffd = "\xEF\xBF\xBD";

TEST(mime_to_utf8, LegacyChineseLabelsDecodeAsGb18030) {
  for (const char* label : {"gb2312", "GBK", "cp936", "euc-cn", "x-gbk", "\"GB2312\""}) {
    EXPECT_EQ(to_utf8("\xC4\xE3\xBA\xC3", label), "你好") << label;
  }
}

TEST(mime_to_utf8, Big5) { EXPECT_EQ(to_utf8("\xA7\x41\xA6\x6E", "big5"), "你好"); }

TEST(mime_to_utf8, ShiftJis) { EXPECT_EQ(to_utf8("\x93\xFA\x96\x7B", "Shift_JIS"), "日本"); }

TEST(mime_to_utf8, EucKrAndKsc5601) {
  EXPECT_EQ(to_utf8("\xC7\xD1\xB1\xB9", "euc-kr"), "한국");
  EXPECT_EQ(to_utf8("\xC7\xD1\xB1\xB9", "ks_c_5601-1987"), "한국");
}

TEST(mime_to_utf8, Iso2022Jp) { EXPECT_EQ(to_utf8("\x1B$BF|K\\\x1B(B", "ISO-2022-JP"), "日本"); }

TEST(mime_to_utf8, Koi8r) { EXPECT_EQ(to_utf8("\xF0\xD2\xC9\xD7\xC5\xD4", "koi8-r"), "Привет"); }

TEST(mime_to_utf8, Latin1IsWindows1252) {
  EXPECT_EQ(to_utf8("Caf\xE9", "iso-8859-1"), "Café");
  EXPECT_EQ(to_utf8("\x80 5", "ISO_8859-1"), "€ 5");
  EXPECT_EQ(to_utf8("\x80 5", "windows-1252"), "€ 5");
  EXPECT_EQ(to_utf8("\xC0", "iso-8859-5"), "Р");
  EXPECT_EQ(to_utf8("\xCF\xF0\xE8", "cp1251"), "При");
}

TEST(mime_to_utf8, Utf8AndAscii) {
  EXPECT_EQ(to_utf8("h\xC3\xA9", "UTF-8"), "hé");
  EXPECT_EQ(to_utf8("plain", "us-ascii"), "plain");
  // 8-bit bytes under an ASCII label: valid UTF-8 stays, otherwise a guess (never U+FFFD).
  EXPECT_EQ(to_utf8("h\xC3\xA9", "us-ascii"), "hé");
  EXPECT_EQ(to_utf8("Caf\xE9 cr\xE8me br\xFBl\xE9\x65 au caf\xE9", "us-ascii"), "Café crème brûlée au café");
}

TEST(mime_to_utf8, InvalidSequenceBecomesReplacementCharacter) {
  const std::string out = to_utf8("ok \xFF\xFF\xFF\xFF more text, still 7-bit ok \xE4\xBD\xA0", "utf-8");
  EXPECT_NE(out.find(fffd), std::string::npos);
  EXPECT_NE(out.find("more text"), std::string::npos);
  EXPECT_NE(out.find("你"), std::string::npos);
  // Truncated final sequence.
  EXPECT_EQ(to_utf8("\xC4\xE3\xBA", "gbk"), std::string("你") + std::string(fffd));
}

TEST(mime_to_utf8, UnknownLabelIsGuessed) {
  EXPECT_EQ(to_utf8("Gr\xC3\xBC\xC3\x9F\x65", "x-foo"), "Grüße");
  EXPECT_EQ(to_utf8("plain", "unknown-8bit"), "plain");
}

TEST(mime_to_utf8, UnlabelledGbkIsGuessed) {
  EXPECT_EQ(to_utf8("\xCE\xD2\xB5\xC4\xD5\xCB\xBB\xA7\xB1\xBB\xB6\xB3\xBD\xE1\xC1\xCB", ""), "我的账户被冻结了");
}

TEST(mime_decode_header, Base64AndQ) {
  EXPECT_EQ(decode_header_value("=?UTF-8?B?5YWF5YC85pyq5Yiw6LSm?="), "充值未到账");
  EXPECT_EQ(decode_header_value("=?iso-8859-1?Q?J=FCrgen_M=FCller?="), "Jürgen Müller");
  EXPECT_EQ(decode_header_value("=?utf-8?q?caf=C3=A9?= ok"), "café ok");
}

TEST(mime_decode_header, LegacyCharsets) {
  EXPECT_EQ(decode_header_value("=?gb2312?B?vPLM5Q==?="), "简体");
  EXPECT_EQ(decode_header_value("=?big5?B?wWPF6Q==?="), "繁體");
  EXPECT_EQ(decode_header_value("=?ks_c_5601-1987?B?x9GxuQ==?="), "한국");
}

TEST(mime_decode_header, AdjacentWordsJoinedWithoutSpace) {
  // RFC 2047 §6.2: whitespace between encoded-words is dropped; text around them is kept.
  EXPECT_EQ(decode_header_value("=?utf-8?Q?a?= =?utf-8?Q?b?="), "ab");
  EXPECT_EQ(decode_header_value("=?utf-8?Q?a?=\t =?utf-8?Q?b?= c"), "ab c");
  EXPECT_EQ(decode_header_value("Re: =?utf-8?Q?a?= x =?utf-8?Q?b?="), "Re: a x b");
}

TEST(mime_decode_header, MultibyteCharacterSplitAcrossWords) {
  // "你好世界" in UTF-8 cut inside "好"; and GB2312 "中文测试" cut inside "文".
  EXPECT_EQ(decode_header_value("=?UTF-8?B?5L2g5Q==?= =?UTF-8?B?pb3kuJbnlYw=?="), "你好世界");
  EXPECT_EQ(decode_header_value("=?gb2312?B?1tDO?=\r\n =?gb2312?B?xLLiytQ=?="), "中文测试");
}

TEST(mime_decode_header, MalformedWordsLeftAsIs) {
  EXPECT_EQ(decode_header_value("=?utf-8?X?abc?="), "=?utf-8?X?abc?=");
  EXPECT_EQ(decode_header_value("=?utf-8?B?@@@@?="), "=?utf-8?B?@@@@?=");
  EXPECT_EQ(decode_header_value("=?utf-8?Q?unterminated"), "=?utf-8?Q?unterminated");
  EXPECT_EQ(decode_header_value("=?utf-8?Q?bad=ZZ?="), "=?utf-8?Q?bad=ZZ?=");
  EXPECT_EQ(decode_header_value("price =? 5"), "price =? 5");
  EXPECT_EQ(decode_header_value("=?=?=?=?"), "=?=?=?=?");
}

TEST(mime_decode_header, LanguageSuffixAndUnknownCharset) {
  EXPECT_EQ(decode_header_value("=?utf-8*en?Q?hi?="), "hi");
  EXPECT_EQ(decode_header_value("=?x-unknown?Q?hi?="), "hi");
}

TEST(mime_decode_header, ControlCharactersNeverSurvive) {
  const std::string v = decode_header_value("=?utf-8?Q?a=0D=0Ab=00c?= d\r\ne");
  EXPECT_EQ(v.find('\r'), std::string::npos);
  EXPECT_EQ(v.find('\n'), std::string::npos);
  EXPECT_EQ(v.find('\0'), std::string::npos);
  EXPECT_NE(v.find("bc"), std::string::npos);
}

TEST(mime_decode_header, Raw8BitHeaderIsGuessed) {
  EXPECT_EQ(decode_header_value("\xD5\xCB\xBB\xA7\xB6\xB3\xBD\xE1"), "账户冻结");
  EXPECT_EQ(decode_header_value("caf\xC3\xA9"), "café");
}

}  // namespace
}  // namespace supportd::mime
