// normalize() and detect_language(): the ICU side of the classifier.

#include <unicode/normalizer2.h>
#include <unicode/translit.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "detail/text.hpp"
#include "supportd/classifier/classifier.hpp"

namespace supportd::classifier {
namespace {

bool is_han(UChar32 c) {
  // CJK Unified Ideographs and Extension A are Han throughout (fully assigned since Unicode
  // 14): answering them here skips an ICU property lookup per Chinese character.
  if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)) return true;
  UErrorCode status = U_ZERO_ERROR;
  return uscript_getScript(c, &status) == USCRIPT_HAN && U_SUCCESS(status);
}

// ICU's "Traditional-Simplified" transliterator is the source of truth for T→S, but running
// it costs ~0.6 µs per character (50+ µs for a short mail), far over the classifier's budget.
// Its mapping of BMP Han characters is one character to one character, so it is run once per
// process over every Han character in U+3400..U+9FFF (~80 ms) and its answers are kept in a
// table; normalising a message is then a lookup per character.
constexpr UChar32 table_first = 0x3400;
constexpr UChar32 table_last = 0x9FFF;

std::vector<char16_t> build_simplified_table() {
  std::vector<char16_t> table(static_cast<std::size_t>(table_last - table_first + 1), 0);
  UErrorCode status = U_ZERO_ERROR;
  const std::unique_ptr<icu::Transliterator> t(icu::Transliterator::createInstance(
      icu::UnicodeString::fromUTF8("Traditional-Simplified"), UTRANS_FORWARD, status));
  if (U_FAILURE(status) || t == nullptr) return table;  // no ICU data: match without T→S
  // One character per line, so each answer is read back at a known place.
  icu::UnicodeString all;
  std::vector<char16_t> inputs;
  for (UChar32 c = table_first; c <= table_last; ++c) {
    if (!is_han(c)) continue;
    all.append(static_cast<char16_t>(c)).append(u'\n');
    inputs.push_back(static_cast<char16_t>(c));
  }
  t->transliterate(all);
  std::size_t index = 0;
  std::int32_t start = 0;
  for (std::int32_t i = 0; i < all.length() && index < inputs.size(); ++i) {
    if (all.charAt(i) != u'\n') continue;
    const char16_t in = inputs[index++];
    // Only single-unit answers are kept; ICU gives no others in this range today.
    if (i - start == 1 && all.charAt(start) != in && !U16_IS_SURROGATE(all.charAt(start))) {
      table[static_cast<std::size_t>(in - table_first)] = all.charAt(start);
    }
    start = i + 1;
  }
  // Simplified text itself uses both 帐 and 账 for "account" (帐户/账户, 到帐/到账), and ICU
  // turns 帳 into 帐: fold the variants so one keyword matches all three spellings.
  static constexpr std::array<std::pair<char16_t, char16_t>, 2> variants{
      {{u'帳', u'账'}, {u'帐', u'账'}}};
  for (const auto& [from, to] : variants) table[static_cast<std::size_t>(from - table_first)] = to;
  return table;
}

const std::vector<char16_t>& simplified_table() {
  static const std::vector<char16_t> table = build_simplified_table();  // thread-safe once
  return table;
}

// Quotes, dashes and white space come in many code points that say the same thing; one
// form each lets "can’t" match "can't" and "top-up" match "top up". All of them are in the
// BMP, so a UTF-16 code unit is enough to decide.
char16_t fold_punctuation(char16_t c) {
  if (c == 0x2018 || c == 0x2019 || c == 0x2032) return u'\'';
  if (c < 0x20 || c == 0x7F || c == u'-') return u' ';
  if (c < 0x80) return c;
  if (U16_IS_SURROGATE(c)) return c;
  if (u_isUWhiteSpace(c) || u_charType(c) == U_DASH_PUNCTUATION) return u' ';
  return c;
}

// Collapses runs of spaces and trims, in place.
void collapse_spaces(std::string& s) {
  std::size_t kept = 0;
  for (const char c : s) {
    if (c == ' ' && (kept == 0 || s[kept - 1] == ' ')) continue;
    s[kept++] = c;
  }
  if (kept > 0 && s[kept - 1] == ' ') --kept;
  s.resize(kept);
}

}  // namespace

namespace detail {

void normalize_into(std::string_view utf8, std::string& out) {
  out.clear();
  out.reserve(utf8.size());
  bool ascii = true;
  for (const char ch : utf8) {
    if (static_cast<unsigned char>(ch) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    // Pure ASCII (most English mail): NFKC is the identity and case folding is tolower,
    // so ICU is skipped on the hot path.
    for (const char ch : utf8) {
      char c = ch;
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      out.push_back(static_cast<char>(fold_punctuation(static_cast<char16_t>(c))));
    }
  } else {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
    thread_local icu::UnicodeString source;
    thread_local icu::UnicodeString folded;
    // Invalid UTF-8 becomes U+FFFD here rather than failing the whole message.
    source = icu::UnicodeString::fromUTF8(
        icu::StringPiece(utf8.data(), static_cast<std::int32_t>(utf8.size())));
    folded.remove();
    if (U_SUCCESS(status) && nfkc_cf != nullptr) nfkc_cf->normalize(source, folded, status);
    if (U_FAILURE(status) || nfkc_cf == nullptr) folded = source;
    // One pass: Traditional → Simplified (only Han characters have entries) and punctuation.
    const std::vector<char16_t>& simplified = simplified_table();
    for (std::int32_t i = 0; i < folded.length(); ++i) {
      char16_t c = folded.charAt(i);
      if (c >= table_first && c <= table_last) {
        if (const char16_t s = simplified[static_cast<std::size_t>(c - table_first)]; s != 0) c = s;
      } else {
        c = fold_punctuation(c);
      }
      if (c != folded.charAt(i)) folded.setCharAt(i, c);
    }
    folded.toUTF8String(out);
  }
  collapse_spaces(out);
}

}  // namespace detail

std::string normalize(std::string_view utf8) {
  std::string out;
  detail::normalize_into(utf8, out);
  return out;
}

std::string detect_language(std::string_view subject, std::string_view body) {
  // A Han character carries about as much as an English word, so Chinese wins at a much
  // lower share than 50% of letters: mixed mail from Chinese customers reads as zh, while a
  // Chinese name in an English signature does not.
  std::size_t han = 0;
  std::size_t latin = 0;
  for (const std::string_view text : {subject, body}) {
    const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
    const auto length = static_cast<std::int32_t>(text.size());
    std::int32_t i = 0;
    while (i < length) {
      UChar32 c = 0;
      U8_NEXT(s, i, length, c);
      if (c < 0) continue;
      if (c < 0x80) {
        if (detail::is_word_byte(static_cast<unsigned char>(c)) && !(c >= '0' && c <= '9')) ++latin;
      } else if (is_han(c)) {
        ++han;
      } else if (u_isalpha(c)) {
        ++latin;
      }
    }
  }
  return (han >= 2 && han * 5 >= latin) ? "zh" : "en";
}

}  // namespace supportd::classifier
