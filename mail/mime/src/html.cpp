// HTML to plain text for HTML-only mail: good enough for classification and quote stripping,
// not a renderer.

#include <array>
#include <string>

#include "detail/charset.hpp"
#include "supportd/mime/message.hpp"

namespace supportd::mime {
namespace {

struct named_entity {
  std::string_view name;
  char32_t cp;
};

// The entities mail clients actually emit (HTML 4 Latin-1, symbols and typography subsets).
constexpr std::array<named_entity, 72> entities{{
    {"amp", U'&'},      {"lt", U'<'},        {"gt", U'>'},        {"quot", U'"'},
    {"apos", U'\''},    {"nbsp", U' '},      {"ensp", U' '},      {"emsp", U' '},
    {"thinsp", U' '},   {"zwnj", 0x200C},    {"zwj", 0x200D},     {"shy", 0xAD},
    {"copy", 0xA9},     {"reg", 0xAE},       {"trade", 0x2122},   {"hellip", 0x2026},
    {"mdash", 0x2014},  {"ndash", 0x2013},   {"lsquo", 0x2018},   {"rsquo", 0x2019},
    {"sbquo", 0x201A},  {"ldquo", 0x201C},   {"rdquo", 0x201D},   {"bdquo", 0x201E},
    {"bull", 0x2022},   {"middot", 0xB7},    {"euro", 0x20AC},    {"pound", 0xA3},
    {"yen", 0xA5},      {"cent", 0xA2},      {"sect", 0xA7},      {"deg", 0xB0},
    {"plusmn", 0xB1},   {"times", 0xD7},     {"divide", 0xF7},    {"laquo", 0xAB},
    {"raquo", 0xBB},    {"iexcl", 0xA1},     {"iquest", 0xBF},    {"para", 0xB6},
    {"micro", 0xB5},    {"frac12", 0xBD},    {"frac14", 0xBC},    {"frac34", 0xBE},
    {"agrave", 0xE0},   {"aacute", 0xE1},    {"acirc", 0xE2},     {"atilde", 0xE3},
    {"auml", 0xE4},     {"aring", 0xE5},     {"aelig", 0xE6},     {"ccedil", 0xE7},
    {"egrave", 0xE8},   {"eacute", 0xE9},    {"ecirc", 0xEA},     {"euml", 0xEB},
    {"igrave", 0xEC},   {"iacute", 0xED},    {"ntilde", 0xF1},    {"ograve", 0xF2},
    {"oacute", 0xF3},   {"ouml", 0xF6},      {"oslash", 0xF8},    {"ugrave", 0xF9},
    {"uacute", 0xFA},   {"uuml", 0xFC},      {"szlig", 0xDF},     {"Eacute", 0xC9},
    {"Auml", 0xC4},     {"Ouml", 0xD6},      {"Uuml", 0xDC},      {"rarr", 0x2192},
}};

bool is_html_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

char ascii_lower_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Tags whose start or end breaks a line.
bool is_block_tag(std::string_view t) noexcept {
  static constexpr std::array<std::string_view, 24> blocks{
      "p",  "br", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "ul",
      "ol", "table", "blockquote", "pre", "hr", "dl", "dt", "dd", "section", "article", "header", "footer"};
  for (auto b : blocks) {
    if (t == b) return true;
  }
  return false;
}

// Builds text line by line: collapses blanks, limits empty lines, prefixes quoted lines.
class text_builder {
 public:
  explicit text_builder(std::size_t reserve) { out_.reserve(reserve); }

  void text(std::string_view s) {
    for (char c : s) {
      if (is_html_space(c)) {
        pending_space_ = true;
        continue;
      }
      start_content();
      if (pending_space_ && !at_line_start_) out_.push_back(' ');
      pending_space_ = false;
      at_line_start_ = false;
      out_.push_back(c);
    }
  }

  // Ends the current line (a block boundary); never produces an empty line.
  void end_line() {
    pending_space_ = false;
    if (at_line_start_) return;
    out_.push_back('\n');
    at_line_start_ = true;
    prefix_written_ = false;
  }

  // <br>: ends the line, and on an empty line leaves (at most) one blank line.
  void line_break() {
    if (!at_line_start_) {
      end_line();
      return;
    }
    blank_line();
  }

  // Paragraph boundary: one blank line between blocks of text.
  void blank_line() {
    end_line();
    if (blank_lines_ < 1 && !out_.empty()) {
      out_.push_back('\n');
      ++blank_lines_;
    }
  }

  void quote_depth(int delta) noexcept { quote_depth_ += delta; if (quote_depth_ < 0) quote_depth_ = 0; }

  std::string take() {
    while (!out_.empty() && (out_.back() == '\n' || out_.back() == ' ')) out_.pop_back();
    return std::move(out_);
  }

 private:
  void start_content() {
    if (at_line_start_) {
      blank_lines_ = 0;
      if (!prefix_written_ && quote_depth_ > 0) {
        for (int i = 0; i < quote_depth_; ++i) out_.push_back('>');
        out_.push_back(' ');
        prefix_written_ = true;
      }
    }
  }

  std::string out_;
  bool at_line_start_ = true;
  bool pending_space_ = false;
  bool prefix_written_ = false;
  int blank_lines_ = 0;
  int quote_depth_ = 0;
};

// Decodes the entity at `s[i]` ('&'); returns the number of bytes consumed (0 = not an entity).
std::size_t decode_entity(std::string_view s, std::size_t i, std::string& out) {
  const std::size_t limit = std::min(s.size(), i + 12);
  std::size_t j = i + 1;
  if (j < limit && s[j] == '#') {
    ++j;
    char32_t cp = 0;
    const bool hex = j < limit && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    const std::size_t digits_begin = j;
    for (; j < limit; ++j) {
      const char c = s[j];
      int v = -1;
      if (c >= '0' && c <= '9') v = c - '0';
      else if (hex && c >= 'a' && c <= 'f') v = c - 'a' + 10;
      else if (hex && c >= 'A' && c <= 'F') v = c - 'A' + 10;
      if (v < 0) break;
      cp = cp * (hex ? 16U : 10U) + static_cast<char32_t>(v);
      if (cp > 0x10FFFF) cp = 0xFFFD;
    }
    if (j == digits_begin) return 0;
    if (j < s.size() && s[j] == ';') ++j;
    if (cp == 0xA0) cp = U' ';
    if (cp == 0) cp = 0xFFFD;
    detail::append_utf8(out, cp);
    return j - i;
  }
  std::size_t k = j;
  while (k < limit && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9'))) ++k;
  const std::string_view name = s.substr(j, k - j);
  if (name.empty()) return 0;
  for (const auto& e : entities) {
    if (e.name == name || (e.name.size() == name.size() && detail::iequals(e.name, name) &&
                           (name == "AMP" || name == "LT" || name == "GT" || name == "QUOT" || name == "NBSP"))) {
      detail::append_utf8(out, e.cp);
      if (k < s.size() && s[k] == ';') ++k;
      return k - i;
    }
  }
  return 0;
}

}  // namespace

std::string html_to_text(std::string_view html) {
  text_builder b(html.size() / 2);
  std::string run;  // text between tags, entities decoded
  auto flush_run = [&] {
    b.text(run);
    run.clear();
  };
  std::size_t i = 0;
  while (i < html.size()) {
    const char c = html[i];
    if (c == '&') {
      const std::size_t used = decode_entity(html, i, run);
      if (used > 0) {
        i += used;
      } else {
        run.push_back(c);
        ++i;
      }
      continue;
    }
    if (c != '<') {
      run.push_back(c);
      ++i;
      continue;
    }
    // Comments, doctype, CDATA: skipped whole.
    if (html.substr(i, 4) == "<!--") {
      const auto end = html.find("-->", i + 4);
      i = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    if (i + 1 < html.size() && (html[i + 1] == '!' || html[i + 1] == '?')) {
      const auto end = html.find('>', i);
      i = end == std::string_view::npos ? html.size() : end + 1;
      continue;
    }
    std::size_t j = i + 1;
    const bool closing = j < html.size() && html[j] == '/';
    if (closing) ++j;
    const std::size_t name_begin = j;
    while (j < html.size() && ((html[j] >= 'a' && html[j] <= 'z') || (html[j] >= 'A' && html[j] <= 'Z') ||
                               (html[j] >= '0' && html[j] <= '9') || html[j] == ':')) {
      ++j;
    }
    if (j == name_begin) {  // "<" that opens no tag, e.g. "a < b"
      run.push_back(c);
      ++i;
      continue;
    }
    std::string name(html.substr(name_begin, j - name_begin));
    for (char& ch : name) ch = ascii_lower_char(ch);
    // Find the tag end, skipping quoted attribute values.
    char quote = 0;
    while (j < html.size()) {
      const char ch = html[j];
      if (quote != 0) {
        if (ch == quote) quote = 0;
      } else if (ch == '"' || ch == '\'') {
        quote = ch;
      } else if (ch == '>') {
        break;
      }
      ++j;
    }
    i = j < html.size() ? j + 1 : html.size();
    if (!closing && (name == "script" || name == "style" || name == "head" || name == "title")) {
      // Raw-text elements: their content is never shown.
      const std::string close = "</" + name;
      std::size_t k = i;
      while (true) {
        k = html.find("</", k);
        if (k == std::string_view::npos) break;
        if (detail::istarts_with(html.substr(k), close)) break;
        k += 2;
      }
      if (k == std::string_view::npos) {
        i = html.size();
      } else {
        const auto gt = html.find('>', k);
        i = gt == std::string_view::npos ? html.size() : gt + 1;
      }
      continue;
    }
    if (is_block_tag(name)) {
      flush_run();
      if (name == "br") {
        b.line_break();
      } else if (name == "p" || name == "blockquote") {
        b.blank_line();
      } else {
        b.end_line();
      }
      if (name == "blockquote") b.quote_depth(closing ? -1 : 1);
    } else if (name == "td" || name == "th") {
      run.push_back(' ');
    } else if (name == "img" && !closing) {
      // no alt text: images carry little for classification
    }
  }
  flush_run();
  return b.take();
}

}  // namespace supportd::mime
