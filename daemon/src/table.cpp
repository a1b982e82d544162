#include "supportd/daemon/table.hpp"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace supportd::daemon {

namespace {

// One code point of a cell as it will be printed, and the columns it takes.
struct glyph {
  std::string_view bytes;  // into the text, or a replacement
  std::size_t width = 0;
};

constexpr std::string_view space = " ";
constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

// How a code point is printed (`bytes` its UTF-8); an empty view drops it.
[[nodiscard]] glyph printable(UChar32 c, std::string_view bytes) {
  if (c == 0xFFFD) return {replacement, 1};  // also what invalid UTF-8 decodes to
  const auto type = static_cast<UCharCategory>(u_charType(c));
  if (type == U_CONTROL_CHAR || type == U_LINE_SEPARATOR || type == U_PARAGRAPH_SEPARATOR)
    return {space, 1};
  if (type == U_FORMAT_CHAR) return {{}, 0};
  if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK) return {bytes, 0};
  // Conjoining Hangul vowels and final consonants join the syllable before them.
  const auto hangul = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
  if (hangul == U_HST_VOWEL_JAMO || hangul == U_HST_TRAILING_JAMO) return {bytes, 0};
  const auto east_asian = u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH);
  if (east_asian == U_EA_WIDE || east_asian == U_EA_FULLWIDTH) return {bytes, 2};
  return {bytes, 1};
}

// The glyphs of a UTF-8 text.
[[nodiscard]] std::vector<glyph> glyphs(std::string_view utf8) {
  std::vector<glyph> out;
  out.reserve(utf8.size());
  const auto* s = reinterpret_cast<const std::uint8_t*>(utf8.data());
  const auto length = static_cast<std::int32_t>(std::min<std::size_t>(utf8.size(), INT32_MAX));
  std::int32_t i = 0;
  while (i < length) {
    const std::int32_t start = i;
    UChar32 c = 0;
    U8_NEXT_OR_FFFD(s, i, length, c);
    const glyph g = printable(
        c, utf8.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(i - start)));
    if (!g.bytes.empty()) out.push_back(g);
  }
  return out;
}

[[nodiscard]] std::size_t width_of(const std::vector<glyph>& g, std::size_t from, std::size_t to) {
  std::size_t w = 0;
  for (std::size_t i = from; i < to; ++i) w += g[i].width;
  return w;
}

[[nodiscard]] std::string text_of(const std::vector<glyph>& g, std::size_t from, std::size_t to) {
  std::string out;
  for (std::size_t i = from; i < to; ++i) out += g[i].bytes;
  return out;
}

constexpr std::string_view ellipsis = "...";

}  // namespace

std::size_t display_width(std::string_view utf8) {
  const auto g = glyphs(utf8);
  return width_of(g, 0, g.size());
}

std::string fit_width(std::string_view utf8, std::size_t width, cut where) {
  const auto g = glyphs(utf8);
  if (width == 0 || width_of(g, 0, g.size()) <= width) return text_of(g, 0, g.size());
  if (width <= ellipsis.size()) return std::string(width, '.');
  const std::size_t room = width - ellipsis.size();
  // The head takes glyphs while they fit (a wide glyph that would overflow is left out, so a
  // cell can end one column short); a middle cut gives the rest of the room to the tail.
  const std::size_t head_room = where == cut::end ? room : room - room / 2;
  std::size_t head = 0;
  for (std::size_t w = 0; head < g.size() && w + g[head].width <= head_room; ++head)
    w += g[head].width;
  std::string out = text_of(g, 0, head) + std::string(ellipsis);
  if (where == cut::middle) {
    std::size_t tail = g.size();
    for (std::size_t w = width_of(g, 0, head); tail > head && w + g[tail - 1].width <= room; --tail)
      w += g[tail - 1].width;
    out += text_of(g, tail, g.size());
  }
  return out;
}

text_table::text_table(std::vector<column> columns) : columns_(std::move(columns)) {}

void text_table::add(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  for (std::size_t i = 0; i < cells.size(); ++i)
    cells[i] =
        cells[i].empty() ? "-" : fit_width(cells[i], columns_[i].max_width, columns_[i].where);
  rows_.push_back(std::move(cells));
}

std::string text_table::render() const {
  std::vector<std::size_t> widths;
  for (const auto& c : columns_) widths.push_back(display_width(c.title));
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], display_width(row[i]));
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(widths[i] - display_width(cells[i]), ' ');
      if (i > 0) text += "  ";
      text += columns_[i].right ? pad + cells[i] : cells[i] + pad;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  std::vector<std::string> titles;
  for (const auto& c : columns_) titles.push_back(c.title);
  line(titles);
  for (const auto& row : rows_) line(row);
  return out;
}

}  // namespace supportd::daemon
