// normalize() and detect_language(): the ICU side of the classifier.

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "detail/text.hpp"
#include "supportd/classifier/classifier.hpp"

namespace supportd::classifier {
namespace {

// First code point of the Han range the fast path handles without ICU.
constexpr UChar32 table_han_begin = 0x3400;

bool is_han(UChar32 c) {
  // CJK Unified Ideographs and Extension A are Han throughout (fully assigned since Unicode
  // 14): answering them here skips an ICU property lookup per Chinese character.
  if ((c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF)) return true;
  UErrorCode status = U_ZERO_ERROR;
  return uscript_getScript(c, &status) == USCRIPT_HAN && U_SUCCESS(status);
}

// Traditional → Simplified for U+3400..U+9FFF: simplified_first, simplified_last and
// simplified_table (0 = unchanged), generated at build time from ICU's "Traditional-Simplified"
// transliterator by tools/gen_simplified_table.cpp. Running the transliterator costs ~0.6 µs
// per character, and building it in the daemon cost ~80 ms and megabytes of rule tables for
// what is a fixed one-to-one map.
#include "simplified_table.inc"

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

// What the ICU path does to each UTF-16 unit after NFKC case folding.
char16_t fold_unit(char16_t c) {
  if (c >= simplified_first && c <= simplified_last) {
    const char16_t s = simplified_table[c - simplified_first];
    return s != 0 ? s : c;
  }
  return fold_punctuation(c);
}

// The ICU path: the whole text as UTF-16 through NFKC_Casefold, then fold_unit().
void normalize_with_icu(std::string_view utf8, std::string& out) {
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
  for (std::int32_t i = 0; i < folded.length(); ++i) {
    const char16_t c = folded.charAt(i);
    if (const char16_t f = fold_unit(c); f != c) folded.setCharAt(i, f);
  }
  out.clear();
  folded.toUTF8String(out);
}

// 1 for the ASCII letters detect_language() counts, else 0.
constexpr std::array<std::uint8_t, 128> ascii_letters = [] {
  std::array<std::uint8_t, 128> t{};
  for (std::size_t c = 'a'; c <= 'z'; ++c) t[c] = 1;
  for (std::size_t c = 'A'; c <= 'Z'; ++c) t[c] = 1;
  return t;
}();

// ASCII: NFKC is the identity and case folding is tolower.
constexpr std::array<char, 128> ascii_folds = [] {
  std::array<char, 128> t{};
  for (std::size_t i = 0; i < t.size(); ++i) {
    char c = static_cast<char>(i);
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c < 0x20 || c == 0x7F || c == '-') c = ' ';  // fold_punctuation()
    t[i] = c;
  }
  return t;
}();

// How detect_language() counts a character.
enum class script_kind : std::uint8_t { other, han, latin };

// What the ICU path turns one character into, asked of ICU once per process for the
// non-Han BMP characters mail uses most (Latin, punctuation, CJK symbols and kana, the
// compatibility and full-width forms). The ICU path's result over a text equals the
// concatenation of its per-character results when every character has a normalisation
// boundary before it (it never combines with what precedes), so only such characters
// whose result fits in 3 bytes are entered; any other character sends the whole text down
// the ICU path.
class fold_table {
 public:
  struct folded {
    static constexpr std::uint8_t not_simple = 0xFF;
    std::uint8_t size = not_simple;
    script_kind kind = script_kind::other;  // of the character itself, for detect_language
    std::array<char, 3> bytes{};
  };

  fold_table() {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfkc_cf = icu::Normalizer2::getNFKCCasefoldInstance(status);
    if (U_FAILURE(status) || nfkc_cf == nullptr) return;  // no ICU data: every text takes the ICU path
    low_.resize(low_end - low_begin);
    high_.resize(high_end - high_begin);
    fill(*nfkc_cf, low_begin, low_);
    fill(*nfkc_cf, high_begin, high_);
  }

  // The entry for `c`, or null when `c` is outside the table.
  [[nodiscard]] const folded* find(UChar32 c) const noexcept {
    if (c >= low_begin && c < low_end && !low_.empty()) return &low_[static_cast<std::size_t>(c - low_begin)];
    if (c >= high_begin && c < high_end && !high_.empty()) return &high_[static_cast<std::size_t>(c - high_begin)];
    return nullptr;
  }

 private:
  static constexpr UChar32 low_begin = 0x80;
  static constexpr UChar32 low_end = table_han_begin;
  static constexpr UChar32 high_begin = 0xF900;
  static constexpr UChar32 high_end = 0x10000;

  static void fill(const icu::Normalizer2& nfkc_cf, UChar32 begin, std::vector<folded>& entries) {
    std::string utf8;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const UChar32 c = begin + static_cast<UChar32>(i);
      if ((c >= 0xD800 && c <= 0xDFFF) || !nfkc_cf.hasBoundaryBefore(c)) continue;
      normalize_with_icu(std::string_view(code_point_utf8(c)), utf8);
      if (utf8.size() > 3) continue;
      entries[i].size = static_cast<std::uint8_t>(utf8.size());
      entries[i].kind = is_han(c) ? script_kind::han : u_isalpha(c) ? script_kind::latin : script_kind::other;
      std::copy(utf8.begin(), utf8.end(), entries[i].bytes.begin());
    }
  }

  static std::string code_point_utf8(UChar32 c) {
    std::string out;
    icu::UnicodeString(c).toUTF8String(out);
    return out;
  }

  std::vector<folded> low_;
  std::vector<folded> high_;
};

const fold_table& fold_table_instance() {
  static const fold_table table;  // thread-safe once; ~15k ICU calls, a few ms
  return table;
}

// The ICU path's result, character by character, when every character is ASCII, Han
// (U+3400..U+4DBF, U+4E00..U+9FFF: NFKC-inert, boundaries on both sides; test_classifier
// checks this against ICU) or a simple fold_table entry. False (and `out` unspecified)
// otherwise, and for invalid UTF-8.
bool normalize_fast(std::string_view utf8, std::string& out, detail::script_counts& counts) {
  // No character grows by more than half its UTF-8 length: ASCII stays one byte, Han stays
  // three, and fold_table results are at most three bytes for inputs of two or more.
  out.resize(utf8.size() + utf8.size() / 2 + 3);
  char* const begin = out.data();
  char* w = begin;
  // collapse_spaces() as the bytes are written: no space first or after a space. Written
  // without a branch (a space is written, then kept only if the last byte kept was not one).
  bool after_space = true;
  auto put = [&](char c) {
    const bool space = c == ' ';
    *w = c;
    w += (space && after_space) ? 0 : 1;
    after_space = space;
  };
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const auto length = static_cast<std::int32_t>(utf8.size());
  const fold_table* table = nullptr;
  std::int32_t i = 0;
  while (i < length) {
    if (s[i] < 0x80) {
      counts.latin += ascii_letters[s[i]];
      put(ascii_folds[s[i]]);
      ++i;
      continue;
    }
    UChar32 c = 0;
    U8_NEXT(s, i, length, c);
    if (c < 0) return false;
    if ((c >= table_han_begin && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF)) {
      ++counts.han;
      const char16_t f = fold_unit(static_cast<char16_t>(c));  // stays in U+3400..U+9FFF
      *w++ = static_cast<char>(0xE0 | (f >> 12));
      *w++ = static_cast<char>(0x80 | ((f >> 6) & 0x3F));
      *w++ = static_cast<char>(0x80 | (f & 0x3F));
      after_space = false;
      continue;
    }
    if (table == nullptr) table = &fold_table_instance();
    const fold_table::folded* f = table->find(c);
    if (f == nullptr || f->size == fold_table::folded::not_simple) return false;
    if (f->kind == script_kind::han) ++counts.han;
    if (f->kind == script_kind::latin) ++counts.latin;
    for (std::uint8_t k = 0; k < f->size; ++k) put(f->bytes[k]);
  }
  if (w != begin && w[-1] == ' ') --w;  // and none last
  out.resize(static_cast<std::size_t>(w - begin));
  return true;
}

}  // namespace

namespace detail {

void normalize_into(std::string_view utf8, std::string& out) {
  script_counts unused;
  normalize_and_count(utf8, out, unused);
}

bool normalize_and_count(std::string_view utf8, std::string& out, script_counts& counts) {
  if (normalize_fast(utf8, out, counts)) return true;  // spaces already collapsed
  normalize_with_icu(utf8, out);
  collapse_spaces(out);
  return false;
}

std::string language_of(const script_counts& counts) {
  // A Han character carries about as much as an English word, so Chinese wins at a much
  // lower share than 50% of letters: mixed mail from Chinese customers reads as zh, while a
  // Chinese name in an English signature does not.
  return (counts.han >= 2 && counts.han * 5 >= counts.latin) ? "zh" : "en";
}

void normalize_with_icu_into(std::string_view utf8, std::string& out) {
  normalize_with_icu(utf8, out);
  collapse_spaces(out);
}

}  // namespace detail

std::string normalize(std::string_view utf8) {
  std::string out;
  detail::normalize_into(utf8, out);
  return out;
}

std::string detect_language(std::string_view subject, std::string_view body) {
  detail::script_counts counts;
  for (const std::string_view text : {subject, body}) {
    const auto* s = reinterpret_cast<const std::uint8_t*>(text.data());
    const auto length = static_cast<std::int32_t>(text.size());
    std::int32_t i = 0;
    while (i < length) {
      if (s[i] < 0x80) {  // ASCII without U8_NEXT: most of every text
        const std::uint8_t b = s[i++];
        if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') ++counts.latin;
        continue;
      }
      UChar32 c = 0;
      U8_NEXT(s, i, length, c);
      if (c < 0) continue;
      if (is_han(c)) {
        ++counts.han;
      } else if (u_isalpha(c)) {
        ++counts.latin;
      }
    }
  }
  return detail::language_of(counts);
}

}  // namespace supportd::classifier
