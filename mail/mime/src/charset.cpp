// Charset labels to UTF-8: glibc iconv behind a browser-style alias table, ICU detection for
// unlabelled 8-bit text.

#include "supportd/mime/message.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include <iconv.h>
#include <unicode/ucsdet.h>

#include "detail/charset.hpp"

namespace supportd::mime {
namespace detail {
namespace {

constexpr std::string_view replacement_char = "\xEF\xBF\xBD";

// What a label resolves to: the iconv name and the canonical name reported to callers.
struct charset_target {
  std::string_view iconv_name;
  std::string_view canonical;
};

enum class label_kind { utf8, ascii, iconv, unknown };

struct resolved_label {
  label_kind kind = label_kind::unknown;
  charset_target target{};
  std::string dynamic_name;  // set when the label is not in the table but iconv may know it
};

// Labels as mail clients write them, mapped the way the WHATWG Encoding Standard does: legacy
// Chinese labels decode as GB18030 (a superset), Big5 as Big5-HKSCS, Shift_JIS as CP932, etc.
struct alias_entry {
  std::string_view label;
  charset_target target;
};

constexpr charset_target gb18030{"GB18030", "gb18030"};
constexpr charset_target big5{"BIG5-HKSCS", "big5"};
constexpr charset_target cp932{"CP932", "shift_jis"};
constexpr charset_target cp949{"CP949", "euc-kr"};
constexpr charset_target cp1252{"CP1252", "windows-1252"};

constexpr std::array<alias_entry, 54> alias_table{{
    {"gb2312", gb18030},
    {"gbk", gb18030},
    {"cp936", gb18030},
    {"ms936", gb18030},
    {"windows-936", gb18030},
    {"euc-cn", gb18030},
    {"x-euc-cn", gb18030},
    {"euccn", gb18030},
    {"x-gbk", gb18030},
    {"gb18030", gb18030},
    {"csgb2312", gb18030},
    {"chinese", gb18030},
    {"iso-ir-58", gb18030},
    {"gb_2312-80", gb18030},
    {"gb_2312", gb18030},
    {"gb2312-80", gb18030},
    {"big5", big5},
    {"big5-hkscs", big5},
    {"big5-tw", big5},
    {"big5_tw", big5},
    {"big5hkscs", big5},
    {"cn-big5", big5},
    {"x-x-big5", big5},
    {"csbig5", big5},
    {"x-big5", big5},
    {"shift_jis", cp932},
    {"shift-jis", cp932},
    {"sjis", cp932},
    {"x-sjis", cp932},
    {"ms_kanji", cp932},
    {"csshiftjis", cp932},
    {"windows-31j", cp932},
    {"cp932", cp932},
    {"euc-jp", {"EUC-JP", "euc-jp"}},
    {"x-euc-jp", {"EUC-JP", "euc-jp"}},
    {"iso-2022-jp", {"ISO-2022-JP-2", "iso-2022-jp"}},
    {"csiso2022jp", {"ISO-2022-JP-2", "iso-2022-jp"}},
    {"iso-2022-jp-2", {"ISO-2022-JP-2", "iso-2022-jp"}},
    {"iso-2022-kr", {"ISO-2022-KR", "iso-2022-kr"}},
    {"euc-kr", cp949},
    {"ks_c_5601-1987", cp949},
    {"ks_c_5601", cp949},
    {"ksc5601", cp949},
    {"ksc_5601", cp949},
    {"korean", cp949},
    {"cp949", cp949},
    {"windows-949", cp949},
    {"koi8-r", {"KOI8-R", "koi8-r"}},
    {"koi8r", {"KOI8-R", "koi8-r"}},
    {"koi8-u", {"KOI8-U", "koi8-u"}},
    {"tis-620", {"CP874", "windows-874"}},
    {"utf-16", {"UTF-16", "utf-16"}},
    {"utf-16le", {"UTF-16LE", "utf-16le"}},
    {"utf-16be", {"UTF-16BE", "utf-16be"}},
}};

// ISO-8859-n as browsers map it (1 → windows-1252, 9 → windows-1254, 11 → windows-874).
constexpr std::array<charset_target, 17> iso8859_targets{{
    {"", ""},
    cp1252,
    {"ISO-8859-2", "iso-8859-2"},
    {"ISO-8859-3", "iso-8859-3"},
    {"ISO-8859-4", "iso-8859-4"},
    {"ISO-8859-5", "iso-8859-5"},
    {"ISO-8859-6", "iso-8859-6"},
    {"ISO-8859-7", "iso-8859-7"},
    {"ISO-8859-8", "iso-8859-8"},
    {"CP1254", "windows-1254"},
    {"ISO-8859-10", "iso-8859-10"},
    {"CP874", "windows-874"},
    {"", ""},
    {"ISO-8859-13", "iso-8859-13"},
    {"ISO-8859-14", "iso-8859-14"},
    {"ISO-8859-15", "iso-8859-15"},
    {"ISO-8859-16", "iso-8859-16"},
}};

constexpr std::array<charset_target, 9> windows_targets{{
    {"CP1250", "windows-1250"},
    {"CP1251", "windows-1251"},
    {"CP1252", "windows-1252"},
    {"CP1253", "windows-1253"},
    {"CP1254", "windows-1254"},
    {"CP1255", "windows-1255"},
    {"CP1256", "windows-1256"},
    {"CP1257", "windows-1257"},
    {"CP1258", "windows-1258"},
}};

// Parses a decimal number at the start of `s`; returns -1 if `s` is not entirely digits.
int parse_small_number(std::string_view s) noexcept {
  if (s.empty() || s.size() > 3) return -1;
  int n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

std::string normalize_label(std::string_view label) {
  std::string_view t = trim(label);
  while (!t.empty() && (t.front() == '"' || t.front() == '\'')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == '"' || t.back() == '\'' || t.back() == ';')) t.remove_suffix(1);
  std::string out(trim(t));
  ascii_lower(out);
  return out;
}

resolved_label resolve_label_uncached(std::string_view raw_label) {
  resolved_label r;
  const std::string label = normalize_label(raw_label);
  if (label.empty()) return r;
  if (label == "utf-8" || label == "utf8" || label == "unicode-1-1-utf-8" || label == "x-unicode20utf8") {
    r.kind = label_kind::utf8;
    r.target = {"UTF-8", "utf-8"};
    return r;
  }
  if (label == "us-ascii" || label == "ascii" || label == "ansi_x3.4-1968" || label == "iso646-us" ||
      label == "us" || label == "csascii" || label == "default" || label == "7bit" || label == "8bit") {
    r.kind = label_kind::ascii;
    r.target = {"UTF-8", "us-ascii"};
    return r;
  }
  for (const auto& e : alias_table) {
    if (e.label == label) {
      r.kind = label_kind::iconv;
      r.target = e.target;
      return r;
    }
  }
  // iso-8859-N, iso8859-N, iso_8859-N[:year], latin1
  std::string_view l = label;
  if (l.starts_with("iso")) {
    std::string_view rest = l.substr(3);
    if (!rest.empty() && (rest.front() == '-' || rest.front() == '_')) rest.remove_prefix(1);
    if (rest.starts_with("8859")) {
      rest.remove_prefix(4);
      if (!rest.empty() && (rest.front() == '-' || rest.front() == '_')) rest.remove_prefix(1);
      rest = rest.substr(0, rest.find_first_of(":-_"));
      const int n = parse_small_number(rest);
      if (n > 0 && n < static_cast<int>(iso8859_targets.size()) &&
          !iso8859_targets[static_cast<std::size_t>(n)].iconv_name.empty()) {
        r.kind = label_kind::iconv;
        r.target = iso8859_targets[static_cast<std::size_t>(n)];
        return r;
      }
    }
  }
  if (label == "latin1" || label == "l1" || label == "cp819" || label == "ibm819" || label == "iso-ir-100") {
    r.kind = label_kind::iconv;
    r.target = cp1252;
    return r;
  }
  // windows-125x, cp125x, x-cp125x
  for (std::string_view prefix : {"windows-", "cp", "x-cp", "win-"}) {
    if (l.starts_with(prefix)) {
      const int n = parse_small_number(l.substr(prefix.size()));
      if (n >= 1250 && n <= 1258) {
        r.kind = label_kind::iconv;
        r.target = windows_targets[static_cast<std::size_t>(n - 1250)];
        return r;
      }
      if (n == 874) {
        r.kind = label_kind::iconv;
        r.target = {"CP874", "windows-874"};
        return r;
      }
    }
  }
  // Not in the table: glibc knows many more labels (ibm850, mac, utf-7, ...). Only plain names.
  const bool plain = std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == ':';
  });
  if (plain && label.size() < 40 && label.find("unknown") == std::string::npos) {
    r.kind = label_kind::iconv;
    r.dynamic_name = label;
  }
  return r;
}

// resolve_label_uncached(), remembered for the last label seen on this thread: a message names
// the same charset in its encoded words and its body, and resolving means normalising the label
// and comparing it with dozens of names.
resolved_label resolve_label(std::string_view raw_label) {
  thread_local std::string last_label;
  thread_local resolved_label last;
  thread_local bool have_last = false;
  if (have_last && raw_label == last_label) return last;
  resolved_label r = resolve_label_uncached(raw_label);
  have_last = false;  // stays so if an assignment below throws
  last_label.assign(raw_label);
  last = r;
  have_last = true;
  return r;
}

// One iconv descriptor per (thread, target charset): opening one costs far more than converting
// a typical message, and descriptors are not thread-safe.
class iconv_cache {
 public:
  iconv_cache() = default;
  iconv_cache(const iconv_cache&) = delete;
  iconv_cache& operator=(const iconv_cache&) = delete;
  ~iconv_cache() {
    for (auto& [name, cd] : entries_) {
      if (cd != invalid()) iconv_close(cd);
    }
  }

  static iconv_t invalid() noexcept { return reinterpret_cast<iconv_t>(static_cast<std::intptr_t>(-1)); }

  // Descriptor converting `from` to UTF-8, or invalid() if glibc does not know it.
  iconv_t get(std::string_view from) {
    for (auto& [name, cd] : entries_) {
      if (name == from) return cd;
    }
    std::string name(from);
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    if (entries_.size() > 64) {  // hostile input with many odd labels: keep the cache bounded
      overflow_.push_back(cd);
      return cd;
    }
    entries_.emplace_back(std::move(name), cd);
    return cd;
  }

  // Closes descriptors handed out beyond the cache bound.
  void release_overflow() {
    for (iconv_t cd : overflow_) {
      if (cd != invalid()) iconv_close(cd);
    }
    overflow_.clear();
  }

 private:
  std::vector<std::pair<std::string, iconv_t>> entries_;
  std::vector<iconv_t> overflow_;
};

iconv_cache& thread_iconv_cache() {
  thread_local iconv_cache cache;
  return cache;
}

// Converts with a ready descriptor. EILSEQ: skip one byte, emit U+FFFD; a truncated final
// sequence also becomes U+FFFD.
std::string run_iconv(iconv_t cd, std::string_view in) {
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state left by an earlier call
  std::string out;
  out.resize(in.size() * 2 + 16);
  char* inp = const_cast<char*>(in.data());
  std::size_t inleft = in.size();
  std::size_t used = 0;
  while (true) {
    char* outp = out.data() + used;
    std::size_t outleft = out.size() - used;
    const std::size_t rc = inleft == 0 ? iconv(cd, nullptr, nullptr, &outp, &outleft)
                                       : iconv(cd, &inp, &inleft, &outp, &outleft);
    used = out.size() - outleft;
    if (rc != static_cast<std::size_t>(-1)) {
      if (inleft == 0) break;
      continue;
    }
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    if (out.size() - used < 8) out.resize(out.size() * 2);
    std::memcpy(out.data() + used, replacement_char.data(), replacement_char.size());
    used += replacement_char.size();
    if (errno == EILSEQ && inleft > 0) {
      ++inp;
      --inleft;
      continue;
    }
    break;  // EINVAL: incomplete sequence at the end, or an unexpected error
  }
  out.resize(used);
  return out;
}

// Lenient UTF-8 pass: keeps valid sequences, replaces each invalid byte with U+FFFD.
std::string repair_utf8(std::string_view in) {
  iconv_t cd = thread_iconv_cache().get("UTF-8");
  if (cd == iconv_cache::invalid()) return std::string(in);
  return run_iconv(cd, in);
}

// Length of a valid UTF-8 sequence at `s[i]`, or 0 if invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

// Counts well-formed multibyte sequences and invalid bytes.
std::pair<std::size_t, std::size_t> utf8_stats(std::string_view s) noexcept {
  std::size_t good = 0;
  std::size_t bad = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      ++bad;
      ++i;
    } else {
      if (n > 1) ++good;
      i += n;
    }
  }
  return {good, bad};
}

// True when the 8-bit bytes pair up as GBK double bytes, mostly inside the GB2312 block (both
// bytes 0xA1-0xFE): short Chinese subjects the detector cannot judge look like this, while
// Latin-1 words ("Müller") do not.
bool looks_like_gbk(std::string_view s) noexcept {
  std::size_t pairs = 0;
  std::size_t gb2312_pairs = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) continue;
    if (lead == 0x80 || lead == 0xFF || i + 1 >= s.size()) return false;
    const auto trail = static_cast<unsigned char>(s[i + 1]);
    if (trail < 0x40 || trail == 0x7F || trail == 0xFF) return false;
    ++pairs;
    if (lead >= 0xA1 && trail >= 0xA1) ++gb2312_pairs;
    ++i;
  }
  return pairs > 0 && gb2312_pairs * 2 >= pairs;
}

class charset_detector {
 public:
  charset_detector() {
    UErrorCode status = U_ZERO_ERROR;
    detector_ = ucsdet_open(&status);
    if (U_FAILURE(status)) detector_ = nullptr;
  }
  charset_detector(const charset_detector&) = delete;
  charset_detector& operator=(const charset_detector&) = delete;
  ~charset_detector() {
    if (detector_ != nullptr) ucsdet_close(detector_);
  }

  // Best match name and confidence (0-100); empty name when ICU has no opinion.
  std::pair<std::string, int> detect(std::string_view bytes) {
    if (detector_ == nullptr || bytes.empty()) return {};
    UErrorCode status = U_ZERO_ERROR;
    const auto len = static_cast<int32_t>(std::min<std::size_t>(bytes.size(), 64 * 1024));
    ucsdet_setText(detector_, bytes.data(), len, &status);
    if (U_FAILURE(status)) return {};
    const UCharsetMatch* match = ucsdet_detect(detector_, &status);
    if (U_FAILURE(status) || match == nullptr) return {};
    const char* name = ucsdet_getName(match, &status);
    const int32_t confidence = ucsdet_getConfidence(match, &status);
    if (U_FAILURE(status) || name == nullptr) return {};
    return {std::string(name), confidence};
  }

 private:
  UCharsetDetector* detector_ = nullptr;
};

charset_detector& thread_detector() {
  thread_local charset_detector detector;
  return detector;
}

std::size_t count_replacements(std::string_view s) noexcept {
  std::size_t n = 0;
  for (std::size_t p = s.find(replacement_char); p != std::string_view::npos; p = s.find(replacement_char, p + 3)) ++n;
  return n;
}

converted_text convert_with(const charset_target& target, std::string_view bytes) {
  converted_text r;
  r.charset = std::string(target.canonical);
  iconv_t cd = thread_iconv_cache().get(target.iconv_name);
  if (cd == iconv_cache::invalid()) {
    r.text = repair_utf8(bytes);
    return r;
  }
  r.text = run_iconv(cd, bytes);
  return r;
}

}  // namespace

std::size_t ascii_prefix(std::string_view bytes) noexcept {
  // Eight bytes at a time: text is mostly ASCII, and this runs over every body and header.
  constexpr std::uint64_t high_bits = 0x8080808080808080ULL;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i, sizeof word);
    if ((word & high_bits) != 0) break;
  }
  while (i < bytes.size() && static_cast<unsigned char>(bytes[i]) < 0x80) ++i;
  return i;
}

bool is_ascii(std::string_view bytes) noexcept { return ascii_prefix(bytes) == bytes.size(); }

bool is_valid_utf8(std::string_view bytes) noexcept {
  std::size_t i = ascii_prefix(bytes);
  while (i < bytes.size()) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      i += ascii_prefix(bytes.substr(i));
      continue;
    }
    const std::size_t n = utf8_sequence_length(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void ascii_lower(std::string& s) noexcept {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

std::string_view trim(std::string_view s) noexcept {
  // A plain loop: find_first_not_of(" \t\r\n\f\v") calls memchr once per character.
  constexpr auto is_ws = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && is_ws(s[b])) ++b;
  while (e > b && is_ws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

void truncate_utf8(std::string& s, std::size_t max) noexcept {
  if (s.size() <= max) return;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

void append_utf8(std::string& out, char32_t cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

converted_text guess_to_utf8(std::string_view bytes) {
  if (is_ascii(bytes)) return {std::string(bytes), "us-ascii", true};
  if (is_valid_utf8(bytes)) return {std::string(bytes), "utf-8", true};

  auto [name, confidence] = thread_detector().detect(bytes);
  // ICU's EBCDIC and UTF-16/32 guesses on mail text are noise.
  const bool usable = !name.empty() && !name.starts_with("IBM") && !name.starts_with("UTF-16") &&
                      !name.starts_with("UTF-32") && name != "UTF-8";
  const bool gbk = looks_like_gbk(bytes);
  const resolved_label detected = usable ? resolve_label(name) : resolved_label{};
  const bool detected_ok = detected.kind == label_kind::iconv && detected.dynamic_name.empty();
  if (detected_ok && confidence >= 50) return convert_with(detected.target, bytes);
  if (gbk) return convert_with(gb18030, bytes);
  if (detected_ok && confidence >= 10) return convert_with(detected.target, bytes);
  return convert_with(cp1252, bytes);
}

converted_text convert_to_utf8(std::string_view bytes, std::string_view label) {
  const resolved_label r = resolve_label(label);
  switch (r.kind) {
    case label_kind::iconv:
      if (r.dynamic_name.empty()) {
        converted_text out = convert_with(r.target, bytes);
        // A wrong label (GB2312 text sent as "big5") shows up as many U+FFFD: if the detector
        // finds a charset that decodes cleanly, trust it instead.
        const std::size_t bad = count_replacements(out.text);
        if (bad >= 2) {
          converted_text g = guess_to_utf8(bytes);
          if (g.charset != "windows-1252" && count_replacements(g.text) * 4 < bad) {
            g.relabelled = true;
            return g;
          }
        }
        return out;
      }
      {
        iconv_t cd = thread_iconv_cache().get(r.dynamic_name);
        if (cd != iconv_cache::invalid()) {
          converted_text out{run_iconv(cd, bytes), r.dynamic_name, true};
          thread_iconv_cache().release_overflow();
          return out;
        }
        thread_iconv_cache().release_overflow();
      }
      break;
    case label_kind::utf8: {
      if (is_valid_utf8(bytes)) return {std::string(bytes), "utf-8", true};
      // Mislabelled legacy text (no valid multibyte sequence at all) reads better guessed.
      const auto [good, bad] = utf8_stats(bytes);
      if (good == 0 || bad > good * 4) {
        converted_text g = guess_to_utf8(bytes);
        return g;
      }
      return {repair_utf8(bytes), "utf-8", true};
    }
    case label_kind::ascii: {
      if (is_ascii(bytes)) return {std::string(bytes), "us-ascii", true};
      // 8-bit bytes under an ASCII label: UTF-8 if valid, GBK pairs as GB18030 (old Chinese
      // clients), else the windows-1252 superset browsers use for "us-ascii".
      if (is_valid_utf8(bytes)) return {std::string(bytes), "utf-8", true};
      if (looks_like_gbk(bytes)) return convert_with(gb18030, bytes);
      return convert_with(cp1252, bytes);
    }
    case label_kind::unknown:
      break;
  }
  converted_text g = guess_to_utf8(bytes);
  g.label_known = normalize_label(label).empty();
  return g;
}

}  // namespace detail

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  try {
    return detail::convert_to_utf8(bytes, charset).text;
  } catch (...) {  // allocation failure on absurd input: give back what is certainly safe
    return {};
  }
}

}  // namespace supportd::mime
