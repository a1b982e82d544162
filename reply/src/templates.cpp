#include "supportd/reply/templates.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <utility>

#include "detail/mustache.hpp"
#include "detail/text.hpp"

namespace supportd::reply {

// What load() keeps per template: the checked source and its parsed form.
struct template_set::entry {
  std::string source;
  std::string file;
  std::string version;
  std::unique_ptr<detail::compiled_mustache> compiled;
};

namespace {

constexpr std::array<std::string_view, 7> allowed_variables{
    "customer_name", "subject",  "ticket",         "category",
    "category_name", "language", "support_address"};

struct category_names {
  std::string_view id;
  std::string_view zh;
  std::string_view en;
};

constexpr std::array<category_names, 13> builtin_category_names{{
    {"account_compromised", "账户安全（疑似被盗）", "Account security"},
    {"password_reset", "密码重置", "Password reset"},
    {"account_frozen", "账户冻结", "Frozen or restricted account"},
    {"payment_failed", "支付失败", "Failed payment"},
    {"withdrawal_delay", "提现未到账", "Withdrawal delay"},
    {"deposit_issue", "充值问题", "Top-up issue"},
    {"refund", "退款", "Refund"},
    {"registration", "注册与邮箱验证", "Registration and email verification"},
    {"fees", "手续费", "Fees"},
    {"transaction_history", "交易记录", "Transaction history"},
    {"complaint", "投诉", "Complaint"},
    {"support_followup", "工单跟进", "Follow-up on your request"},
    {"general", "一般咨询", "General enquiry"},
}};

[[nodiscard]] bool is_allowed_variable(std::string_view name) {
  for (const auto v : allowed_variables) {
    if (v == name) return true;
  }
  return false;
}

[[nodiscard]] std::string allowed_list() {
  std::string out;
  for (const auto v : allowed_variables) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

// FNV-1a 64: a stable content fingerprint for the thread log, not a security hash.
[[nodiscard]] std::string content_version(std::string_view content) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : content) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  static constexpr std::string_view hex = "0123456789abcdef";
  std::string out(16, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    out[15 - i] = hex[static_cast<std::size_t>(h & 0xfU)];
    h >>= 4U;
  }
  return out.substr(0, 12);
}

[[nodiscard]] std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

[[nodiscard]] std::size_t line_of(std::string_view source, std::size_t offset) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') ++line;
  }
  return line;
}

// kainjow reports "... at <byte offset>"; turn the offset into a line number for operators.
[[nodiscard]] std::string describe_syntax_error(std::string_view source,
                                                const std::string& message) {
  const auto at = message.rfind(" at ");
  if (at != std::string::npos) {
    std::size_t offset = 0;
    const char* first = message.data() + at + 4;
    const char* last = message.data() + message.size();
    const auto [ptr, ec] = std::from_chars(first, last, offset);
    if (ec == std::errc{} && ptr == last) {
      return "line " + std::to_string(line_of(source, offset)) +
             ": mustache syntax error: " + message;
    }
  }
  return "mustache syntax error: " + message;
}

// Finds tags whose variable is not one of reply_vars, and partials (there is nothing to include).
// Mirrors kainjow's tag grammar: {{x}}, {{{x}}}, {{&x}}, {{#x}}, {{^x}}, {{/x}}, {{!c}},
// {{=<% %>=}}. Only called on sources kainjow already accepted, so every tag is closed.
void check_tags(std::string_view source, const std::string& file,
                std::vector<template_error>& errors) {
  std::string open = "{{";
  std::string close = "}}";
  std::size_t pos = 0;
  while ((pos = source.find(open, pos)) != std::string_view::npos) {
    const std::size_t tag_start = pos;
    std::size_t contents = pos + open.size();
    const bool triple = open == "{{" && contents < source.size() && source[contents] == '{';
    std::string_view end_delim = close;
    if (triple) {
      ++contents;
      end_delim = "}}}";
    }
    const std::size_t tag_end = source.find(end_delim, contents);
    if (tag_end == std::string_view::npos) return;
    pos = tag_end + end_delim.size();
    const std::string_view body = trim(source.substr(contents, tag_end - contents));
    const auto report = [&](const std::string& what) {
      errors.push_back({file, "line " + std::to_string(line_of(source, tag_start)) + ": " + what});
    };

    std::string_view name = body;
    if (!triple && !body.empty()) {
      switch (body.front()) {
        case '!':
        case '/':
          continue;
        case '=': {
          const std::string_view inner =
              trim(body.substr(1, body.size() >= 2 ? body.size() - 2 : 0));
          const auto space = inner.find(' ');
          if (space != std::string_view::npos) {
            open = std::string(inner.substr(0, space));
            close = std::string(trim(inner.substr(space + 1)));
          }
          continue;
        }
        case '>':
          report("partials are not supported: {{" + std::string(body) + "}}");
          continue;
        case '#':
        case '^':
        case '&':
          name = trim(body.substr(1));
          break;
        default:
          break;
      }
    }
    if (!is_allowed_variable(name)) {
      report("unknown variable \"" + std::string(name) + "\" (allowed: " + allowed_list() + ")");
    }
  }
}

// Every variable is a one-line value: a run of control characters (CR, LF, TAB, NUL...) from an
// inbound header becomes one space, so a value cannot add lines to the reply.
[[nodiscard]] std::string one_line(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool in_run = false;
  for (const char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) {
      if (!in_run) out += ' ';
      in_run = true;
    } else {
      out += c;
      in_run = false;
    }
  }
  return out;
}

[[nodiscard]] detail::mustache_vars template_vars(const reply_vars& vars) {
  return {{"customer_name", one_line(vars.customer_name)},
          {"subject", one_line(vars.subject)},
          {"ticket", one_line(vars.ticket)},
          {"category", one_line(vars.category)},
          {"category_name", one_line(vars.category_name)},
          {"language", one_line(vars.language)},
          {"support_address", one_line(vars.support_address)}};
}

// The source with {{! comments }} blanked out (line breaks kept): they are never sent, so a
// link in one reaches no customer.
[[nodiscard]] std::string without_comments(std::string_view source) {
  std::string out(source);
  for (std::size_t pos = out.find("{{!"); pos != std::string::npos; pos = out.find("{{!", pos)) {
    const std::size_t end = out.find("}}", pos + 3);
    const std::size_t stop = end == std::string::npos ? out.size() : end + 2;
    for (std::size_t i = pos; i < stop; ++i)
      if (out[i] != '\n') out[i] = ' ';
    pos = stop;
  }
  return out;
}

[[nodiscard]] std::expected<std::string, std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::unexpected("cannot open file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::unexpected("read error");
  return ss.str();
}

}  // namespace

std::string default_category_name(std::string_view category, std::string_view language) {
  for (const auto& c : builtin_category_names) {
    if (c.id == category) return std::string(language == "zh" ? c.zh : c.en);
  }
  return std::string(category);
}

template_set::template_set(std::map<std::string, std::shared_ptr<const entry>> entries)
    : entries_(std::move(entries)) {}

template_set::~template_set() = default;

std::expected<std::shared_ptr<const template_set>, std::vector<template_error>> template_set::load(
    const std::filesystem::path& dir, const std::vector<std::string>& categories,
    const std::vector<std::string>& languages) {
  std::vector<template_error> errors;
  std::map<std::string, std::shared_ptr<const entry>> entries;
  try {
    for (const auto& lang : languages) {
      for (const auto& category : categories) {
        const auto path = dir / lang / (category + ".mustache");
        const std::string file = path.string();
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) {
          errors.push_back({file, "missing template for category \"" + category +
                                      "\" in language \"" + lang + "\""});
          continue;
        }
        auto content = read_file(path);
        if (!content) {
          errors.push_back({file, content.error()});
          continue;
        }
        if (!detail::is_valid_utf8(*content)) {
          errors.push_back({file, "not valid UTF-8"});
          continue;
        }
        if (const auto syntax = detail::mustache_syntax_error(*content); !syntax.empty()) {
          errors.push_back({file, describe_syntax_error(*content, syntax)});
          continue;
        }
        const std::size_t before = errors.size();
        check_tags(*content, file, errors);
        if (errors.size() != before) continue;

        // A trial render catches anything the parser let through.
        reply_vars sample{
            "customer", "subject",        "ticket", category, default_category_name(category, lang),
            lang,       "support@example"};
        auto compiled = std::make_unique<detail::compiled_mustache>(*content);
        if (const auto trial = compiled->render(template_vars(sample)); !trial) {
          errors.push_back({file, "render failed: " + trial.error()});
          continue;
        }
        auto e = std::make_shared<entry>();
        e->version = content_version(*content);
        e->compiled = std::move(compiled);
        e->source = std::move(*content);
        e->file = file;
        entries.emplace(lang + "/" + category, std::move(e));
      }
    }
  } catch (const std::exception& ex) {
    errors.push_back({dir.string(), std::string("cannot load templates: ") + ex.what()});
  }
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return std::make_shared<const template_set>(std::move(entries));
}

std::vector<template_link> template_set::links() const {
  std::vector<template_link> out;
  for (const auto& [key, e] : entries_)
    for (auto& found : find_links(without_comments(e->source)))
      out.push_back({e->file, std::move(found)});
  return out;
}

std::expected<rendered_reply, template_error> template_set::render(std::string_view category,
                                                                   std::string_view language,
                                                                   const reply_vars& vars) const {
  const std::string lang{language};
  const std::string cat{category};
  const std::array<std::pair<std::string, std::string>, 4> candidates{{
      {lang, cat},
      {"en", cat},
      {lang, "general"},
      {"en", "general"},
  }};
  for (const auto& [l, c] : candidates) {
    const auto it = entries_.find(l + "/" + c);
    if (it == entries_.end()) continue;
    const entry& e = *it->second;
    reply_vars v = vars;
    if (v.category.empty()) v.category = cat;
    if (v.language.empty()) v.language = l;
    if (v.category_name.empty()) v.category_name = default_category_name(v.category, l);
    auto body = e.compiled->render(template_vars(v));
    if (!body) return std::unexpected(template_error{e.file, body.error()});
    return rendered_reply{detail::normalize_newlines(*body), it->first, e.version};
  }
  return std::unexpected(
      template_error{lang + "/" + cat, "no template for this category and no general fallback"});
}

}  // namespace supportd::reply
