// normalize() against ICU: the character-by-character path must give exactly what the ICU path
// gives, and the build-time Traditional→Simplified table exactly what ICU's transliterator gives.
#include "detail/text.hpp"

#include <gtest/gtest.h>

#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/uscript.h>
#include <unicode/unistr.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "supportd/classifier/classifier.hpp"

namespace supportd::classifier {
namespace {

std::string utf8_of(UChar32 c) {
  std::string out;
  icu::UnicodeString(c).toUTF8String(out);
  return out;
}

std::string with_icu(std::string_view text) {
  std::string out;
  detail::normalize_with_icu_into(text, out);
  return out;
}

TEST(classifier_normalize_icu, EveryBmpCharacterAsIcu) {
  for (UChar32 c = 0; c < 0x10000; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const std::string s = utf8_of(c);
    ASSERT_EQ(normalize(s), with_icu(s)) << "U+" << std::hex << c;
    // Next to ASCII and Han, where the fast path joins per-character results.
    const std::string mixed = "A" + s + "b" + s + "中" + s;
    ASSERT_EQ(normalize(mixed), with_icu(mixed)) << "U+" << std::hex << c;
  }
}

TEST(classifier_normalize_icu, HanRangesAreInert) {
  // The fast path copies these (after T→S) without asking ICU.
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
  ASSERT_TRUE(U_SUCCESS(status));
  for (UChar32 c = 0x3400; c <= 0x9FFF; ++c) {
    if (c > 0x4DBF && c < 0x4E00) continue;
    ASSERT_TRUE(nfkc_cf->isInert(c)) << "U+" << std::hex << c;
  }
  for (UChar32 c = 0; c < 0x80; ++c) ASSERT_TRUE(nfkc_cf->hasBoundaryBefore(c)) << c;
}

TEST(classifier_normalize_icu, RandomTextAsIcu) {
  // Pieces that interact under NFKC: combining marks after letters and Han, Hangul jamo,
  // compatibility forms, full-width text, invalid bytes, non-BMP characters.
  const std::vector<std::string> pieces = {
      "a", "E", " ", "-", "\t", "\n", "中", "國", "帳", "ｆｅｅ", "，", "\xCC\x81", "\xCC\xA7",
      "e\xCC\x81", "\xE1\x84\x80", "\xE1\x85\xA1", "\xEA\xB0\x80", "\xEF\xAC\x81", "\xE2\x85\xA0",
      "\xC3\x9F", "\xE2\x80\x99", "\xE3\x80\x80", "\xFF", "\xE4\xB8", "\xF0\x9F\x98\x80",
      "\xF0\xA0\x80\x80", "\xE2\x80\x8B", "\xC2\xAD", "\xE3\x8B\x80", "\xE2\xBC\x80"};
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const std::size_t n = rng() % 12;
    for (std::size_t k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
    ASSERT_EQ(normalize(text), with_icu(text)) << text;
  }
}

TEST(classifier_normalize_icu, LanguageCountedOnTheWayAsDetectLanguage) {
  const std::vector<std::string> pieces = {"a", "Z", "9", " ", "中", "國", "ｆ", "é", "ß", "ﬁ", "①",
                                           "\xE2\xBC\x80", "\xEF\xA4\x80", "Ж", "\xE3\x80\x85", "。"};
  std::mt19937 rng(5);
  for (int i = 0; i < 20000; ++i) {
    std::string subject;
    std::string body;
    for (std::size_t k = rng() % 6; k > 0; --k) subject += pieces[rng() % pieces.size()];
    for (std::size_t k = rng() % 20; k > 0; --k) body += pieces[rng() % pieces.size()];
    detail::script_counts counts;
    std::string out;
    const bool a = detail::normalize_and_count(subject, out, counts);
    const bool b = detail::normalize_and_count(body, out, counts);
    if (a && b) {
      ASSERT_EQ(detail::language_of(counts), detect_language(subject, body)) << subject << " | " << body;
    }
  }
}

TEST(classifier_normalize_icu, SimplifiedTableIsIcusTransliterator) {
  UErrorCode status = U_ZERO_ERROR;
  const std::unique_ptr<icu::Transliterator> t(icu::Transliterator::createInstance(
      icu::UnicodeString::fromUTF8("Traditional-Simplified"), UTRANS_FORWARD, status));
  ASSERT_TRUE(U_SUCCESS(status) && t != nullptr);
  icu::UnicodeString all;
  std::vector<UChar32> inputs;
  for (UChar32 c = 0x3400; c <= 0x9FFF; ++c) {
    UErrorCode s = U_ZERO_ERROR;
    if (uscript_getScript(c, &s) != USCRIPT_HAN) continue;
    all.append(c).append(u'\n');
    inputs.push_back(c);
  }
  t->transliterate(all);
  std::string lines;
  all.toUTF8String(lines);
  std::size_t start = 0;
  for (const UChar32 c : inputs) {
    const std::size_t end = lines.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    std::string expected = lines.substr(start, end - start);
    start = end + 1;
    if (expected == "帐") expected = "账";  // the variants supportd folds together
    if (c == U'帐' || c == U'帳') expected = "账";
    // Han characters are NFKC-inert, so normalize() is the table lookup alone.
    ASSERT_EQ(normalize(utf8_of(c)), expected) << "U+" << std::hex << c;
  }
}

}  // namespace
}  // namespace supportd::classifier
