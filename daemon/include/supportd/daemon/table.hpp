#pragma once
// Plain-text tables for the command line whose columns line up in a terminal, Chinese included.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::daemon {

/// Terminal columns UTF-8 text takes once made safe by fit_width: East Asian wide and fullwidth
/// characters take 2 (UAX #11, from ICU), combining marks and format characters 0, others 1.
[[nodiscard]] std::size_t display_width(std::string_view utf8);

/// Where fit_width cuts text that is too wide.
enum class cut { end, middle };

/// `utf8` made safe for one table cell and cut to at most `width` columns, "..." marking the cut.
/// Control characters (escape sequences, line breaks, tabs) become spaces, format characters
/// (bidi overrides, zero-width joiners) are dropped and invalid UTF-8 becomes U+FFFD, so mail
/// cannot move the cursor or reorder the table. `width` 0 means no limit.
[[nodiscard]] std::string fit_width(std::string_view utf8, std::size_t width, cut where = cut::end);

/// A table: a title line, then one line per row, columns two spaces apart, no trailing spaces.
class text_table {
 public:
  struct column {
    std::string title;
    std::size_t max_width = 0;  // 0: as wide as its widest cell
    bool right = false;         // right-aligned (numbers)
    cut where = cut::end;
  };

  explicit text_table(std::vector<column> columns);
  /// Adds a row; missing cells are empty, empty cells print as "-".
  void add(std::vector<std::string> cells);
  [[nodiscard]] std::string render() const;

 private:
  std::vector<column> columns_;
  std::vector<std::vector<std::string>> rows_;  // already fitted to their column
};

}  // namespace supportd::daemon
