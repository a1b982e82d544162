// Rules file loading: TOML → validated, normalised, compiled rules.
//
// Every problem is reported with the file, line and column of the node at fault (toml++
// keeps a source region on every node), because operators edit this file by hand and
// check-config / reload must point at the mistake.

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "detail/rules_impl.hpp"
#include "detail/text.hpp"
#include "supportd/classifier/classifier.hpp"

namespace supportd::classifier {
namespace {

using error_result = std::unexpected<rules_error>;

// g++ 12 has no <format>; messages are short concatenations.
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  (out.append(std::string_view(parts)), ...);
  return out;
}

class loader {
 public:
  explicit loader(std::string source) : source_(std::move(source)) {}

  std::expected<std::unique_ptr<rules::impl>, rules_error> run(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      return error_result(rules_error{source_, static_cast<int>(e.source().begin.line),
                                      static_cast<int>(e.source().begin.column),
                                      std::string(e.description())});
    }
    out_ = std::make_unique<rules::impl>();
    for (auto&& [key, node] : root) {
      if (key.str() == "settings") {
        if (auto r = read_settings(node); !r) return error_result(r.error());
      } else if (key.str() == "category") {
        if (auto r = read_categories(node); !r) return error_result(r.error());
      } else {
        return error_result(at(
            key.source(), node.source(),
            concat("unknown top-level key '", key.str(), "' (expected 'settings' or 'category')")));
      }
    }
    if (out_->categories.empty()) {
      return error_result(rules_error{source_, 1, 1, "no [[category]] tables"});
    }
    const auto general = std::find(out_->ids.begin(), out_->ids.end(), "general");
    if (general == out_->ids.end()) {
      return error_result(
          rules_error{source_, 1, 1, "a [[category]] with id = \"general\" is required"});
    }
    out_->general = static_cast<std::uint32_t>(general - out_->ids.begin());
    out_->automaton.build();
    return std::move(out_);
  }

 private:
  rules_error at(const toml::source_region& primary, const toml::source_region& fallback,
                 std::string message) const {
    const toml::source_region& r = primary.begin.line != 0 ? primary : fallback;
    return rules_error{source_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column),
                       std::move(message)};
  }
  rules_error at(const toml::node& node, std::string message) const {
    return at(node.source(), node.source(), std::move(message));
  }

  std::expected<double, rules_error> number(const toml::node& node, std::string_view what) const {
    if (const auto v = node.value<double>();
        v && std::isfinite(*v) && (node.is_integer() || node.is_floating_point())) {
      return *v;
    }
    return error_result(at(node, concat("'", what, "' must be a number")));
  }

  std::expected<void, rules_error> read_settings(const toml::node& node) {
    const toml::table* table = node.as_table();
    if (table == nullptr) return error_result(at(node, "'settings' must be a table"));
    for (auto&& [key, value] : *table) {
      const std::string_view k = key.str();
      if (k == "max_repeats") {
        const auto v = value.value<std::int64_t>();
        if (!v || !value.is_integer() || *v < 1 || *v > 100) {
          return error_result(at(value, "'max_repeats' must be an integer from 1 to 100"));
        }
        out_->max_repeats = *v;
        continue;
      }
      double* target = nullptr;
      double low = 0;
      double high = 1000;
      if (k == "min_confidence") {
        target = &out_->min_confidence;
        high = 1;
      } else if (k == "subject_weight") {
        target = &out_->subject_weight;
      } else if (k == "reply_subject_weight") {
        target = &out_->reply_subject_weight;
      } else if (k == "half_confidence_score") {
        target = &out_->half_confidence_score;
        low = 0.001;
      } else {
        return error_result(at(key.source(), value.source(), concat("unknown setting '", k, "'")));
      }
      const auto v = number(value, k);
      if (!v) return error_result(v.error());
      if (*v < low || *v > high) {
        return error_result(at(value, concat("'", k, "' is out of range",
                                             high == 1 ? " (0 to 1)" : " (must be positive)")));
      }
      *target = *v;
    }
    return {};
  }

  std::expected<void, rules_error> read_categories(const toml::node& node) {
    const toml::array* array = node.as_array();
    if (array == nullptr)
      return error_result(at(node, "'category' must be an array of tables: write [[category]]"));
    for (const toml::node& item : *array) {
      const toml::table* table = item.as_table();
      if (table == nullptr)
        return error_result(at(item, "each category must be a table: write [[category]]"));
      if (auto r = read_category(*table); !r) return error_result(r.error());
    }
    return {};
  }

  std::expected<void, rules_error> read_category(const toml::table& table) {
    const toml::node* id_node = table.get("id");
    if (id_node == nullptr || !id_node->is_string()) {
      return error_result(at(table, "category needs id = \"...\" (a taxonomy id)"));
    }
    rules::impl::category cat;
    cat.id = id_node->value<std::string>().value_or("");
    const bool id_ok = !cat.id.empty() && std::all_of(cat.id.begin(), cat.id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!id_ok)
      return error_result(at(*id_node, "category id must be lower-case letters, digits and '_'"));
    if (std::find(out_->ids.begin(), out_->ids.end(), cat.id) != out_->ids.end()) {
      return error_result(at(*id_node, concat("category '", cat.id, "' is defined twice")));
    }
    const auto index = static_cast<std::uint32_t>(out_->categories.size());

    for (auto&& [key, value] : table) {
      const std::string_view k = key.str();
      if (k == "id") continue;
      if (k == "name") {
        const toml::table* names = value.as_table();
        if (names == nullptr)
          return error_result(
              at(value, "'name' must be a table: name = { zh = \"…\", en = \"…\" }"));
        for (auto&& [lang, text] : *names) {
          if (lang.str() != "zh" && lang.str() != "en") {
            return error_result(at(lang.source(), text.source(),
                                   concat("unknown name language '", lang.str(), "' (zh or en)")));
          }
          if (!text.is_string() || text.value<std::string>()->empty()) {
            return error_result(at(text, "a display name must be a non-empty string"));
          }
          (lang.str() == "zh" ? cat.name_zh : cat.name_en) = *text.value<std::string>();
        }
      } else if (k == "escalate") {
        if (!value.is_boolean()) return error_result(at(value, "'escalate' must be true or false"));
        cat.escalate = *value.value<bool>();
      } else if (k == "priority") {
        if (!value.is_integer()) return error_result(at(value, "'priority' must be an integer"));
        cat.priority = *value.value<std::int64_t>();
      } else if (k == "zh" || k == "zh_hant" || k == "en") {
        if (auto r = read_keywords(value, index); !r) return error_result(r.error());
      } else {
        return error_result(
            at(key.source(), value.source(),
               concat("unknown key '", k, "' in category '", cat.id,
                      "' (expected id, name, escalate, priority, zh, zh_hant, en)")));
      }
    }
    if (cat.name_zh.empty() || cat.name_en.empty()) {
      return error_result(
          at(table, concat("category '", cat.id, "' needs name = { zh = \"…\", en = \"…\" }")));
    }
    out_->ids.push_back(cat.id);
    out_->categories.push_back(std::move(cat));
    return {};
  }

  std::expected<void, rules_error> read_keywords(const toml::node& node, std::uint32_t category) {
    const toml::array* list = node.as_array();
    if (list == nullptr)
      return error_result(
          at(node, "keywords must be a list: [\"word\", { text = \"phrase\", weight = 3 }]"));
    for (const toml::node& item : *list) {
      std::string text;
      double weight = 1;
      if (item.is_string()) {
        text = *item.value<std::string>();
      } else if (const toml::table* t = item.as_table()) {
        bool has_text = false;
        for (auto&& [key, value] : *t) {
          if (key.str() == "text" && value.is_string()) {
            text = *value.value<std::string>();
            has_text = true;
          } else if (key.str() == "weight") {
            const auto w = number(value, "weight");
            if (!w) return error_result(w.error());
            if (*w == 0 || std::abs(*w) > 100)
              return error_result(at(value, "'weight' must be non-zero, from -100 to 100"));
            weight = *w;
          } else {
            return error_result(
                at(key.source(), value.source(),
                   concat("unknown key '", key.str(), "' in keyword (expected text and weight)")));
          }
        }
        if (!has_text) return error_result(at(item, "keyword table needs text = \"…\""));
      } else {
        return error_result(at(item, "a keyword is a string or { text = \"…\", weight = N }"));
      }
      const std::string pattern = normalize(text);
      if (pattern.empty()) return error_result(at(item, "empty keyword"));
      add_keyword(std::move(text), pattern, category, weight);
    }
    return {};
  }

  void add_keyword(std::string text, const std::string& pattern, std::uint32_t category,
                   double weight) {
    const std::uint32_t id = out_->automaton.add(pattern);
    if (id >= out_->patterns.size()) {
      out_->patterns.resize(id + 1);
      auto& p = out_->patterns[id];
      p.word_start = detail::is_word_byte(static_cast<unsigned char>(pattern.front()));
      p.word_end = detail::is_word_byte(static_cast<unsigned char>(pattern.back()));
    }
    // The same word listed in Simplified and Traditional forms normalises to one pattern:
    // count it once per category, with the larger weight.
    for (const std::uint32_t k : out_->patterns[id].keywords) {
      auto& existing = out_->keywords[k];
      if (existing.category == category) {
        if (std::abs(weight) > std::abs(existing.weight)) existing.weight = weight;
        return;
      }
    }
    out_->patterns[id].keywords.push_back(static_cast<std::uint32_t>(out_->keywords.size()));
    out_->keywords.push_back({std::move(text), category, weight});
  }

  std::string source_;
  std::unique_ptr<rules::impl> out_;
};

}  // namespace

std::string rules_error::to_string() const {
  if (line <= 0) return concat(file, ": ", message);
  return concat(file, ":", std::to_string(line), ":", std::to_string(column), ": ", message);
}

rules::rules(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
rules::~rules() = default;

std::expected<std::shared_ptr<const rules>, rules_error> rules::parse(std::string_view toml_text,
                                                                      std::string source) {
  auto compiled = loader(std::move(source)).run(toml_text);
  if (!compiled) return std::unexpected(std::move(compiled.error()));
  return std::make_shared<const rules>(std::move(*compiled));
}

std::expected<std::shared_ptr<const rules>, rules_error> rules::load(
    const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::unexpected(rules_error{file.string(), 0, 0, "cannot open rules file"});
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::unexpected(rules_error{file.string(), 0, 0, "cannot read rules file"});
  return parse(text.str(), file.string());
}

const std::vector<std::string>& rules::categories() const { return impl_->ids; }

bool rules::escalates(std::string_view category) const {
  for (const auto& c : impl_->categories) {
    if (c.id == category) return c.escalate;
  }
  return true;  // unknown category: let a person look
}

std::string rules::display_name(std::string_view category, std::string_view language) const {
  for (const auto& c : impl_->categories) {
    if (c.id == category) return language.starts_with("zh") ? c.name_zh : c.name_en;
  }
  return std::string(category);
}

}  // namespace supportd::classifier
