#pragma once
// Reply templates: one kainjow mustache file per category and language under a directory
// (`<dir>/<lang>/<category>.mustache`), rendered as plain text (no HTML escaping).

#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "supportd/reply/links.hpp"

namespace supportd::reply {

/// Values a template may use: {{customer_name}}, {{subject}}, {{ticket}}, {{category}},
/// {{category_name}}, {{language}}, {{support_address}}.
struct reply_vars {
  std::string customer_name;  // display name, or the local part of the address (one line)
  std::string subject;        // original subject (decoded)
  std::string ticket;         // e.g. "OK-20261122-000042"
  std::string category;       // taxonomy id
  std::string category_name;  // display name of the category; filled by render() when empty
  std::string language;       // "zh" / "en"
  std::string support_address;
};

struct template_error {
  std::string file;
  std::string message;
};

/// A link written in a template file (what check-config compares with the allowed domains).
struct template_link {
  std::string file;
  link found;  // found.line is the line in `file`
};

/// A rendered reply body (the subject is the caller's "Re: <original>").
struct rendered_reply {
  std::string body;              // UTF-8, "\n" line endings (the composer writes CRLF)
  std::string template_name;     // "<lang>/<category>" actually used (after fallback)
  std::string template_version;  // short content hash of the template file
};

/// Built-in display name of a taxonomy category in "zh" or "en" (the id itself when unknown).
[[nodiscard]] std::string default_category_name(std::string_view category,
                                                std::string_view language);

/// All templates of a directory, parsed and checked once; immutable.
class template_set {
 public:
  /// Loads and validates every template; fails if any category of `categories` lacks a
  /// template in a language of `languages`, or a template has a syntax error or unknown variable.
  static std::expected<std::shared_ptr<const template_set>, std::vector<template_error>> load(
      const std::filesystem::path& dir, const std::vector<std::string>& categories,
      const std::vector<std::string>& languages = {"zh", "en"});

  /// Renders category's template in `language` (falls back to "en", then to "general").
  /// Thread-safe: each call renders from the cached source; the set itself never changes.
  [[nodiscard]] std::expected<rendered_reply, template_error> render(std::string_view category,
                                                                     std::string_view language,
                                                                     const reply_vars& vars) const;

  /// Every link written in the templates (see find_links), file by file.
  [[nodiscard]] std::vector<template_link> links() const;

  struct entry;
  explicit template_set(std::map<std::string, std::shared_ptr<const entry>> entries);
  ~template_set();

 private:
  std::map<std::string, std::shared_ptr<const entry>> entries_;  // key "<lang>/<category>"
};

}  // namespace supportd::reply
