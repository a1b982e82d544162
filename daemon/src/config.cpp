#include "supportd/daemon/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <vector>
#include <sstream>
#include <toml++/toml.h>

#include "supportd/reply/compose.hpp"

namespace supportd::daemon {

std::chrono::hours followup_settings::deadline_for(std::string_view category) const {
  for (const auto& [name, hours] : deadlines)
    if (name == category) return hours;
  return deadline;
}

std::string config_error::to_string() const {
  std::string out = file;
  if (line > 0) {
    out += ':';
    out += std::to_string(line);
  }
  return out + ": " + message;
}

namespace {

// 'key' for messages. (Built by appending: GCC 12 -O3 gives a false -Wrestrict for
// "'" + std::string(key).)
std::string quoted(std::string_view key) {
  std::string out(1, '\'');
  out += key;
  out += '\'';
  return out;
}

struct reader {
  std::filesystem::path file;
  std::filesystem::path dir;

  config_error error_at(const toml::node* node, std::string message) const {
    int line = node ? static_cast<int>(node->source().begin.line) : 0;
    return {file.string(), line, std::move(message)};
  }

  std::expected<std::string, config_error> string(const toml::table& t, std::string_view key,
                                                  std::string fallback) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (auto v = n->value<std::string>()) return *v;
    return std::unexpected(error_at(n, quoted(key) + " must be a string"));
  }

  std::expected<std::int64_t, config_error> integer(const toml::table& t, std::string_view key,
                                                    std::int64_t fallback, std::int64_t min,
                                                    std::int64_t max) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    auto v = n->value<std::int64_t>();
    if (!v) return std::unexpected(error_at(n, quoted(key) + " must be an integer"));
    if (*v < min || *v > max)
      return std::unexpected(error_at(n, quoted(key) + " must be between " +
                                             std::to_string(min) + " and " + std::to_string(max)));
    return *v;
  }

  std::expected<bool, config_error> boolean(const toml::table& t, std::string_view key,
                                            bool fallback) const {
    const toml::node* n = t.get(key);
    if (!n) return fallback;
    if (auto v = n->value<bool>()) return *v;
    return std::unexpected(error_at(n, quoted(key) + " must be true or false"));
  }

  std::filesystem::path resolve(const std::string& p) const {
    std::filesystem::path path(p);
    return path.is_absolute() ? path : dir / path;
  }

  /// Where a secret file is: systemd LoadCredential= puts secrets under $CREDENTIALS_DIRECTORY,
  /// which relative names try first; otherwise relative to the config file.
  std::filesystem::path credential_path(const std::string& name) const {
    std::filesystem::path p(name);
    if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY");
        creds && p.is_relative() && std::filesystem::exists(std::filesystem::path(creds) / p))
      return std::filesystem::path(creds) / p;
    return resolve(name);
  }

  /// Reads a secret: password_file, else password_env; never logged.
  std::expected<std::string, config_error> password(const toml::table& t) const {
    auto file_name = string(t, "password_file", "");
    if (!file_name) return std::unexpected(file_name.error());
    auto env_name = string(t, "password_env", "");
    if (!env_name) return std::unexpected(env_name.error());
    if (!file_name->empty()) {
      std::filesystem::path p = credential_path(*file_name);
      std::ifstream in(p, std::ios::binary);
      if (!in)
        return std::unexpected(error_at(t.get("password_file"),
                                        "cannot read password_file " + p.string()));
      std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
      return secret;
    }
    if (!env_name->empty()) {
      const char* v = std::getenv(env_name->c_str());
      if (!v)
        return std::unexpected(error_at(t.get("password_env"),
                                        "environment variable " + *env_name + " is not set"));
      return std::string(v);
    }
    return std::string();
  }

  std::expected<transport::endpoint, config_error> endpoint(const toml::table& root,
                                                            std::string_view section,
                                                            std::string_view schemes) const {
    const toml::table* t = root[section].as_table();
    if (!t)
      return std::unexpected(
          config_error{file.string(), 0, "missing [" + std::string(section) + "] section"});
    transport::endpoint ep;
    auto url = string(*t, "url", "");
    if (!url) return std::unexpected(url.error());
    if (url->empty())
      return std::unexpected(error_at(t, "[" + std::string(section) + "] url is required"));
    auto scheme = url->substr(0, url->find("://"));
    if (url->find("://") == std::string::npos ||
        (std::string(" ") + std::string(schemes) + " ").find(" " + scheme + " ") ==
            std::string::npos)
      return std::unexpected(
          error_at(t->get("url"), "url must start with one of: " + std::string(schemes)));
    ep.url = *url;
    auto user = string(*t, "user", "");
    if (!user) return std::unexpected(user.error());
    ep.user = *user;
    auto pw = password(*t);
    if (!pw) return std::unexpected(pw.error());
    ep.password = *pw;
    auto plain = boolean(*t, "allow_plaintext", false);
    if (!plain) return std::unexpected(plain.error());
    ep.allow_plaintext = *plain;
    auto tls = boolean(*t, "starttls", true);
    if (!tls) return std::unexpected(tls.error());
    ep.starttls = *tls;
    auto ca = string(*t, "ca_file", "");
    if (!ca) return std::unexpected(ca.error());
    if (!ca->empty()) ep.ca_file = resolve(*ca).string();
    auto insecure = boolean(*t, "insecure_skip_verify", false);
    if (!insecure) return std::unexpected(insecure.error());
    ep.insecure_skip_verify = *insecure;
    auto timeout = integer(*t, "timeout_seconds", 120, 5, 3600);
    if (!timeout) return std::unexpected(timeout.error());
    ep.timeout = std::chrono::seconds(*timeout);
    if (auto ok = transport::check_endpoint(ep); !ok)
      return std::unexpected(error_at(t->get("url"), ok.error().message));
    return ep;
  }
};

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

/// [templates] link_domains: plain domain names; each also allows its subdomains.
std::expected<std::vector<std::string>, config_error> link_domains(const toml::node& n,
                                                                   const reader& r) {
  const toml::array* arr = n.as_array();
  if (!arr) return std::unexpected(r.error_at(&n, "'link_domains' must be a list of domain names"));
  std::vector<std::string> out;
  for (auto&& d : *arr) {
    auto v = d.value<std::string>();
    if (!v) return std::unexpected(r.error_at(&d, "'link_domains' must be a list of domain names"));
    std::string domain = lower(*v);
    if (domain.starts_with("*."))
      return std::unexpected(r.error_at(&d, "write \"" + domain.substr(2) + "\" instead of \"" +
                                                domain + "\": subdomains are always allowed"));
    const bool plain = !domain.empty() && domain.front() != '.' && domain.back() != '.' &&
                       domain.find("..") == std::string::npos &&
                       std::all_of(domain.begin(), domain.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                                c == '.' || c == '_';
                       });
    if (!plain)
      return std::unexpected(r.error_at(&d, "\"" + *v +
                                                "\" in 'link_domains' is not a domain name "
                                                "(e.g. \"example.com\", no scheme or path; IDN "
                                                "names as xn--)"));
    out.push_back(std::move(domain));
  }
  return out;
}

std::expected<settings, config_error> read(const toml::table& root, const reader& r) {
  // Every section and key an operator may write; anything else is a typo worth an error.
  static const std::map<std::string_view, std::vector<std::string_view>> known = {
      {"imap",
       {"url", "user", "password_file", "password_env", "allow_plaintext", "starttls", "ca_file",
        "insecure_skip_verify", "timeout_seconds", "poll_seconds", "batch_size",
        "reconnect_max_seconds"}},
      {"smtp",
       {"url", "user", "password_file", "password_env", "allow_plaintext", "starttls", "ca_file",
        "insecure_skip_verify", "timeout_seconds", "envelope_from", "retry_base_seconds",
        "retry_max_seconds", "max_attempts", "connections"}},
      {"reply",
       {"from", "addresses", "message_id_domain", "require_addressed", "enabled",
        "repeat_window_hours", "max_per_recipient_per_day", "max_per_minute", "max_age_hours"}},
      {"store", {"path"}},
      {"classifier", {"rules"}},
      {"templates", {"dir", "link_domains"}},
      {"web", {"enabled", "address", "port", "token_file", "session_hours"}},
      {"followup", {"deadline_hours", "deadlines", "digest_to", "digest_hour"}},
      {"log", {"level"}}};
  for (auto&& [key, node] : root) {
    auto section = known.find(key.str());
    if (section == known.end())
      return std::unexpected(r.error_at(&node, "unknown section [" + std::string(key.str()) + "]"));
    const toml::table* table = node.as_table();
    if (!table)
      return std::unexpected(r.error_at(&node, "[" + std::string(key.str()) + "] must be a table"));
    for (auto&& [name, value] : *table)
      if (std::find(section->second.begin(), section->second.end(), name.str()) ==
          section->second.end())
        return std::unexpected(r.error_at(&value, "unknown key '" + std::string(name.str()) +
                                                      "' in [" + std::string(key.str()) + "]"));
  }
  settings s;
  s.source = r.file;

  auto imap = r.endpoint(root, "imap", "imap imaps");
  if (!imap) return std::unexpected(imap.error());
  s.imap.endpoint = *imap;
  const toml::table& imap_t = *root["imap"].as_table();
  auto poll = r.integer(imap_t, "poll_seconds", 30, 1, 86400);
  if (!poll) return std::unexpected(poll.error());
  s.imap.poll_interval = std::chrono::seconds(*poll);
  auto batch = r.integer(imap_t, "batch_size", 50, 1, 10000);
  if (!batch) return std::unexpected(batch.error());
  s.imap.batch_size = static_cast<std::size_t>(*batch);
  auto reconnect = r.integer(imap_t, "reconnect_max_seconds", 300, 1, 86400);
  if (!reconnect) return std::unexpected(reconnect.error());
  s.imap.reconnect_max = std::chrono::seconds(*reconnect);

  auto smtp = r.endpoint(root, "smtp", "smtp smtps");
  if (!smtp) return std::unexpected(smtp.error());
  s.smtp.endpoint = *smtp;
  auto env_from = r.string(*root["smtp"].as_table(), "envelope_from", "");
  if (!env_from) return std::unexpected(env_from.error());
  s.smtp.envelope_from = *env_from;
  const toml::table& smtp_t = *root["smtp"].as_table();
  auto retry_base = r.integer(smtp_t, "retry_base_seconds", 30, 1, 86400);
  if (!retry_base) return std::unexpected(retry_base.error());
  s.smtp.retry_base = std::chrono::seconds(*retry_base);
  auto retry_max = r.integer(smtp_t, "retry_max_seconds", 3600, *retry_base, 7 * 86400);
  if (!retry_max) return std::unexpected(retry_max.error());
  s.smtp.retry_max = std::chrono::seconds(*retry_max);
  auto max_attempts = r.integer(smtp_t, "max_attempts", 30, 1, 1000);
  if (!max_attempts) return std::unexpected(max_attempts.error());
  s.smtp.max_attempts = static_cast<int>(*max_attempts);
  auto connections = r.integer(smtp_t, "connections", 1, 1, 8);
  if (!connections) return std::unexpected(connections.error());
  s.smtp.connections = static_cast<int>(*connections);

  const toml::table* reply_t = root["reply"].as_table();
  if (!reply_t) return std::unexpected(config_error{r.file.string(), 0, "missing [reply] section"});
  auto from = r.string(*reply_t, "from", "");
  if (!from) return std::unexpected(from.error());
  s.reply.from = reply::parse_mailbox(*from);
  if (s.reply.from.address.empty() || s.reply.from.address.find('@') == std::string::npos)
    return std::unexpected(r.error_at(reply_t->get("from"), "[reply] from needs an address, e.g. "
                                                          "\"Support <support@example.com>\""));
  if (const toml::node* n = reply_t->get("addresses")) {
    const toml::array* arr = n->as_array();
    if (!arr) return std::unexpected(r.error_at(n, "'addresses' must be a list of strings"));
    for (auto&& a : *arr) {
      auto v = a.value<std::string>();
      if (!v) return std::unexpected(r.error_at(&a, "'addresses' must be a list of strings"));
      s.reply.addresses.push_back(lower(*v));
    }
  }
  s.reply.from.address = lower(s.reply.from.address);
  if (std::find(s.reply.addresses.begin(), s.reply.addresses.end(), s.reply.from.address) ==
      s.reply.addresses.end())
    s.reply.addresses.push_back(s.reply.from.address);
  auto domain = r.string(*reply_t, "message_id_domain",
                         s.reply.from.address.substr(s.reply.from.address.find('@') + 1));
  if (!domain) return std::unexpected(domain.error());
  s.reply.message_id_domain = lower(*domain);
  auto addressed = r.boolean(*reply_t, "require_addressed", true);
  if (!addressed) return std::unexpected(addressed.error());
  s.reply.require_addressed = *addressed;
  auto enabled = r.boolean(*reply_t, "enabled", true);
  if (!enabled) return std::unexpected(enabled.error());
  s.reply.enabled = *enabled;
  auto window = r.integer(*reply_t, "repeat_window_hours", 24, 0, 24 * 365);
  if (!window) return std::unexpected(window.error());
  s.reply.repeat_window = std::chrono::hours(*window);
  auto per_recipient = r.integer(*reply_t, "max_per_recipient_per_day", 5, 1, 100000);
  if (!per_recipient) return std::unexpected(per_recipient.error());
  s.reply.max_per_recipient_per_day = static_cast<int>(*per_recipient);
  auto per_minute = r.integer(*reply_t, "max_per_minute", 60, 1, 1000000);
  if (!per_minute) return std::unexpected(per_minute.error());
  s.reply.max_per_minute = static_cast<int>(*per_minute);
  auto max_age = r.integer(*reply_t, "max_age_hours", 24, 0, 24 * 3650);
  if (!max_age) return std::unexpected(max_age.error());
  s.reply.max_age = std::chrono::hours(*max_age);

  auto path_of = [&](std::string_view section, std::string_view key,
                     std::string fallback) -> std::expected<std::filesystem::path, config_error> {
    const toml::table* t = root[section].as_table();
    if (!t) return r.resolve(fallback);
    auto v = r.string(*t, key, fallback);
    if (!v) return std::unexpected(v.error());
    return r.resolve(*v);
  };
  auto store_path = path_of("store", "path", "/var/lib/supportd/supportd.db");
  if (!store_path) return std::unexpected(store_path.error());
  s.store_path = *store_path;
  auto rules = path_of("classifier", "rules", "/etc/supportd/categories.toml");
  if (!rules) return std::unexpected(rules.error());
  s.rules_path = *rules;
  auto templates = path_of("templates", "dir", "/etc/supportd/templates");
  if (!templates) return std::unexpected(templates.error());
  s.templates_dir = *templates;
  if (const toml::table* t = root["templates"].as_table(); t && t->get("link_domains")) {
    auto domains = link_domains(*t->get("link_domains"), r);
    if (!domains) return std::unexpected(domains.error());
    s.link_domains = std::move(*domains);
  }
  if (const toml::table* web = root["web"].as_table()) {
    auto web_enabled = r.boolean(*web, "enabled", false);
    if (!web_enabled) return std::unexpected(web_enabled.error());
    s.web.enabled = *web_enabled;
    auto address = r.string(*web, "address", "127.0.0.1");
    if (!address) return std::unexpected(address.error());
    s.web.address = *address;
    auto port = r.integer(*web, "port", 8025, 0, 65535);
    if (!port) return std::unexpected(port.error());
    s.web.port = static_cast<int>(*port);
    auto token = r.string(*web, "token_file", "");
    if (!token) return std::unexpected(token.error());
    if (!token->empty()) s.web.token_file = r.credential_path(*token);
    auto hours = r.integer(*web, "session_hours", 12, 1, 24 * 30);
    if (!hours) return std::unexpected(hours.error());
    s.web.session = std::chrono::hours(*hours);
    if (s.web.enabled && s.web.token_file.empty())
      return std::unexpected(r.error_at(web, "[web] enabled needs token_file"));
  }
  if (const toml::table* f = root["followup"].as_table()) {
    auto hours = r.integer(*f, "deadline_hours", 24, 1, 24 * 365);
    if (!hours) return std::unexpected(hours.error());
    s.followup.deadline = std::chrono::hours(*hours);
    if (const toml::node* n = f->get("deadlines")) {
      const toml::table* per = n->as_table();
      if (!per) return std::unexpected(r.error_at(n, "deadlines must be a table: category = hours"));
      for (auto&& [category, value] : *per) {
        auto v = value.value<std::int64_t>();
        if (!v || *v < 1)
          return std::unexpected(r.error_at(&value, "deadline of " + std::string(category.str()) +
                                                        " must be a positive number of hours"));
        s.followup.deadlines.emplace_back(std::string(category.str()), std::chrono::hours(*v));
      }
    }
    auto to = r.string(*f, "digest_to", "");
    if (!to) return std::unexpected(to.error());
    s.followup.digest_to = *to;
    auto hour = r.integer(*f, "digest_hour", 9, 0, 23);
    if (!hour) return std::unexpected(hour.error());
    s.followup.digest_hour = static_cast<int>(*hour);
  }
  if (const toml::table* log = root["log"].as_table()) {
    auto level = r.string(*log, "level", "info");
    if (!level) return std::unexpected(level.error());
    if (*level != "debug" && *level != "info" && *level != "warning" && *level != "error")
      return std::unexpected(r.error_at(log->get("level"), "level must be debug, info, warning or error"));
    s.log_level = *level;
  }
  return s;
}

}  // namespace

std::expected<settings, config_error> load_settings(const std::filesystem::path& file) {
  reader r{file, file.parent_path()};
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::unexpected(config_error{file.string(), 0, "cannot read the config file"});
  std::stringstream text;
  text << in.rdbuf();
  try {
    toml::table root = toml::parse(text.str(), file.string());
    return read(root, r);
  } catch (const toml::parse_error& e) {
    return std::unexpected(config_error{file.string(),
                                        static_cast<int>(e.source().begin.line),
                                        std::string(e.description())});
  }
}

}  // namespace supportd::daemon
