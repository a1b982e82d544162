#pragma once
// Keyword classifier: operators' rules (TOML) → category, confidence, language, matched keywords.
// Pure code: no mail, network or filesystem access except load_rules().

#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace supportd::classifier {

/// A rules-file problem with its place, for check-config and reload messages.
struct rules_error {
  std::string file;
  int line = 0;  // 0 when unknown
  int column = 0;
  std::string message;
  [[nodiscard]] std::string to_string() const;  // "file:line:col: message"
};

struct keyword_hit {
  std::string keyword;  // as written in the rules file
  std::string where;    // "subject" or "body"
  double weight = 0;    // contribution to the category's score
};

struct classification {
  std::string category;               // taxonomy id; "general" when unsure
  double confidence = 0;              // 0..1
  std::string language;               // "zh" or "en"
  bool escalate = false;              // category escalates, or confidence below threshold
  bool low_confidence = false;        // fell back to general because nothing was sure enough
  std::vector<keyword_hit> keywords;  // hits of the chosen category, strongest first
};

/// Compiled rules; immutable and cheap to share between threads.
class rules {
 public:
  /// Parses a rules file's text. `source` names it in errors.
  static std::expected<std::shared_ptr<const rules>, rules_error> parse(
      std::string_view toml_text, std::string source = "<rules>");
  static std::expected<std::shared_ptr<const rules>, rules_error> load(
      const std::filesystem::path& file);

  /// Category ids in file order (always includes "general").
  [[nodiscard]] const std::vector<std::string>& categories() const;
  /// Whether a category always escalates to an agent.
  [[nodiscard]] bool escalates(std::string_view category) const;
  /// Human name of a category for replies: `language` "zh…" gives Chinese, anything else
  /// English; an unknown category gives its id back.
  [[nodiscard]] std::string display_name(std::string_view category,
                                         std::string_view language) const;

  struct impl;
  explicit rules(std::unique_ptr<impl> p);
  ~rules();
  rules(const rules&) = delete;
  rules& operator=(const rules&) = delete;
  [[nodiscard]] const impl& get() const { return *impl_; }

 private:
  std::unique_ptr<impl> impl_;
};

/// Classifies a message by its decoded subject and its new (unquoted) body text.
[[nodiscard]] classification classify(const rules& r, std::string_view subject,
                                      std::string_view body);

/// NFKC + case fold + Traditional→Simplified: the form keywords and text are matched in.
[[nodiscard]] std::string normalize(std::string_view utf8);

/// "zh" when the text is mostly Han script, else "en".
[[nodiscard]] std::string detect_language(std::string_view subject, std::string_view body);

}  // namespace supportd::classifier
