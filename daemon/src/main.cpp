// supportd: the command line. Each subcommand is a thin shell over the components.

#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "supportd/daemon/checks.hpp"
#include "supportd/daemon/config.hpp"
#include "supportd/daemon/log.hpp"
#include "supportd/daemon/pipeline.hpp"
#include "supportd/daemon/replay.hpp"
#include "supportd/daemon/service.hpp"
#include "supportd/store/store.hpp"
#include "supportd/transport/transport.hpp"

namespace {

using namespace supportd;
using json = nlohmann::json;

constexpr const char* default_config = "/etc/supportd/supportd.toml";

std::expected<daemon::settings, int> settings_or_exit(const std::string& path) {
  auto s = daemon::load_settings(path);
  if (!s) {
    std::cerr << "supportd: config error: " << s.error().to_string() << "\n";
    return std::unexpected(2);
  }
  return *s;
}

std::string read_file(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string format_time(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

json thread_json(const store::thread_row& t) {
  return {{"id", t.id},
          {"ticket", t.ticket},
          {"customer", t.customer_address},
          {"name", t.customer_name},
          {"subject", t.subject},
          {"category", t.category},
          {"language", t.language},
          {"status", std::string(store::to_string(t.status))},
          {"priority", t.priority},
          {"assignee", t.assignee},
          {"created_at", t.created_at},
          {"updated_at", t.updated_at}};
}

std::expected<daemon::settings, int> offline_settings(const std::string& config,
                                                      const std::string& rules_path,
                                                      const std::string& templates_dir);

/// `classify`: the offline verdict on .eml files, no network and no store.
int cmd_classify(const std::string& config, const std::string& rules_path,
                 const std::string& templates_dir, const std::vector<std::string>& files,
                 bool as_json) {
  auto loaded = offline_settings(config, rules_path, templates_dir);
  if (!loaded) return loaded.error();
  const daemon::settings& s = *loaded;
  auto rules = classifier::rules::load(s.rules_path);
  if (!rules) {
    std::cerr << "supportd: " << rules.error().to_string() << "\n";
    return 2;
  }
  daemon::runtime rt{*rules, nullptr};
  auto guard = daemon::make_guard_settings(s.reply);
  int status = 0;
  for (const auto& file : files) {
    bool ok = false;
    std::string raw = read_file(file, ok);
    if (!ok) {
      std::cerr << "supportd: cannot read " << file << "\n";
      status = 1;
      continue;
    }
    auto ev = daemon::evaluate(raw, rt, guard, {});
    std::string reason = ev.guard.may_reply ? "" : ev.guard.rule + ": " + ev.guard.reason;
    json keywords = json::array();
    for (const auto& k : ev.cls.keywords) keywords.push_back(k.keyword);
    if (as_json) {
      json j = {{"file", file},
                {"category", ev.cls.category},
                {"confidence", ev.cls.confidence},
                {"language", ev.cls.language},
                {"reply", ev.guard.may_reply},
                {"escalate", ev.cls.escalate},
                {"reason", reason},
                {"keywords", keywords}};
      std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    } else {
      std::cout << file << ": " << ev.cls.category << " (" << ev.cls.confidence << ", "
                << ev.cls.language << ")" << (ev.cls.escalate ? " escalate" : "")
                << (ev.guard.may_reply ? " reply" : " no-reply: " + reason) << "\n";
    }
  }
  return status;
}

/// Settings for offline commands: the config file when given, else defaults around a rules file.
std::expected<daemon::settings, int> offline_settings(const std::string& config,
                                                      const std::string& rules_path,
                                                      const std::string& templates_dir) {
  if (!config.empty()) return settings_or_exit(config);
  daemon::settings s;
  s.rules_path = rules_path;
  s.templates_dir = templates_dir;
  s.reply.from = {"OKPay Support", "support@okpay-wallet.example"};
  s.reply.addresses = {"support@okpay-wallet.example"};
  s.reply.message_id_domain = "okpay-wallet.example";
  return s;
}

/// `replay`: mail through the whole decision path (guard, threads, limits, templates) on a
/// scratch thread log; nothing is sent and the real store is not touched.
int cmd_replay(const std::string& config, const std::string& rules_path,
               const std::string& templates_dir, const std::string& source, bool as_json) {
  auto s = offline_settings(config, rules_path, templates_dir);
  if (!s) return s.error();
  auto rt = daemon::load_checked_runtime(*s);
  if (!rt) {
    for (const auto& e : rt.error()) std::cerr << "supportd: " << e << "\n";
    return 2;
  }
  for (const auto& w : rt->warnings) std::cerr << "supportd: warning: " << w << "\n";
  auto scratch = std::filesystem::temp_directory_path() /
                 ("supportd-replay-" + std::to_string(::getpid()) + ".db");
  struct cleanup {
    std::filesystem::path p;
    ~cleanup() {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suffix);
    }
  } remove_scratch{scratch};
  s->store_path = scratch;
  store::store db(scratch);
  daemon::pipeline pipeline(*s, db);
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<daemon::replay_row> rows;
  std::int64_t uid = 0;
  auto err = daemon::read_replay_source(source, [&](daemon::replay_message&& m) {
    store::inbound_key key{"replay", 1, ++uid};
    db.note_seen(key);
    daemon::outcome o = pipeline.process(key, m.raw, *rt->rt, now);
    daemon::replay_row row = daemon::make_replay_row(std::move(m.name), o, db.inbound(key));
    if (as_json) {
      // One object per message as it is decided (scripts read these; the table waits for all).
      json j = {
          {"message", row.message},
          {"from", row.from},
          {"subject", row.subject},
          {"decision", row.decision},
          {"reason", row.reason},
          {"category", row.category},
          {"confidence", row.confidence},
          {"language", row.language},
          {"template", row.template_name.empty() ? std::string()
                                                 : row.template_name + "@" + row.template_version},
          {"ticket", row.ticket}};
      std::cout << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    } else {
      rows.push_back(std::move(row));
    }
  });
  if (!err.empty()) {
    std::cerr << "supportd: " << err << "\n";
    return 1;
  }
  if (!as_json) std::cout << daemon::replay_table(rows) << "\n" << daemon::replay_summary(rows);
  return 0;
}

int cmd_check_config(const std::string& config) {
  auto s = settings_or_exit(config);
  if (!s) return s.error();
  auto rt = daemon::load_checked_runtime(*s);
  if (!rt) {
    for (const auto& e : rt.error()) std::cerr << "supportd: " << e << "\n";
    return 2;
  }
  for (const auto& w : rt->warnings) std::cerr << "supportd: warning: " << w << "\n";
  std::string domains;
  for (const auto& d : s->link_domains.value_or(std::vector<std::string>{}))
    domains += (domains.empty() ? "" : ", ") + d;
  std::cout << "config ok: " << config << "\n  rules: " << s->rules_path.string() << " ("
            << rt->rt->rules->categories().size()
            << " categories)\n  templates: " << s->templates_dir.string() << " ("
            << rt->rt->templates->links().size() << " links, linking to "
            << (!s->link_domains  ? "the [reply] domains: link_domains is not set"
                : domains.empty() ? "nothing: link_domains is empty"
                                  : domains + " and their subdomains")
            << ")\n  store: " << s->store_path.string() << "\n";
  return 0;
}

int cmd_threads_list(const std::string& config, const std::string& status, bool as_json) {
  auto s = settings_or_exit(config);
  if (!s) return s.error();
  std::optional<store::thread_status> filter;
  if (!status.empty()) {
    filter = store::thread_status_from(status);
    if (!filter) {
      std::cerr << "supportd: unknown status '" << status
                << "' (open, auto_replied, escalated, suppressed, resolved)\n";
      return 2;
    }
  }
  store::store db(s->store_path);
  for (const auto& t : db.list_threads(filter)) {
    if (as_json) {
      std::cout << thread_json(t).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    } else {
      std::cout << t.id << "\t" << t.ticket << "\t" << store::to_string(t.status) << "\t"
                << t.category << "\t" << t.language << "\t" << format_time(t.updated_at) << "\t"
                << t.customer_address << "\t" << t.subject << "\n";
    }
  }
  return 0;
}

int cmd_threads_show(const std::string& config, std::int64_t id, bool as_json) {
  auto s = settings_or_exit(config);
  if (!s) return s.error();
  store::store db(s->store_path);
  auto t = db.thread(id);
  if (!t) {
    std::cerr << "supportd: no thread " << id << "\n";
    return 1;
  }
  auto messages = db.thread_messages(id);
  if (as_json) {
    json j = thread_json(*t);
    j["messages"] = json::array();
    for (const auto& m : messages)
      j["messages"].push_back({{"direction", m.direction},
                               {"message_id", m.message_id},
                               {"from", m.from_address},
                               {"subject", m.subject},
                               {"decision", m.decision},
                               {"reason", m.reason},
                               {"category", m.category},
                               {"confidence", m.confidence},
                               {"language", m.language},
                               {"keywords", m.keywords},
                               {"created_at", m.created_at},
                               {"body", m.body}});
    std::cout << j.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << "Thread " << t->id << " [#" << t->ticket << "]  " << store::to_string(t->status)
            << "\nCustomer: " << t->customer_name << " <" << t->customer_address
            << ">\nSubject:  " << t->subject << "\nCategory: " << t->category << " ("
            << t->language << ")\nOpened:   " << format_time(t->created_at)
            << "\nUpdated:  " << format_time(t->updated_at) << "\n";
  for (const auto& m : messages) {
    std::cout << "\n--- " << (m.direction == "in" ? "from " + m.from_address : "reply") << "  "
              << format_time(m.created_at) << "  " << m.decision
              << (m.reason.empty() ? "" : " (" + m.reason + ")") << "\n";
    if (m.direction == "in" && !m.category.empty())
      std::cout << "category " << m.category << " confidence " << m.confidence
                << (m.keywords.empty() ? "" : " keywords: " + m.keywords) << "\n";
    std::cout << "Subject: " << m.subject << "\n\n" << m.body << "\n";
  }
  return 0;
}

/// `why`: the stored decision on a message: guard or thread rule, classification with keyword
/// weights, template and version, and every send attempt of its reply.
int cmd_why(const std::string& config, std::string message_id) {
  auto s = settings_or_exit(config);
  if (!s) return s.error();
  if (message_id.size() > 1 && message_id.front() == '<' && message_id.back() == '>')
    message_id = message_id.substr(1, message_id.size() - 2);
  store::store db(s->store_path);
  auto rows = db.messages_by_message_id(message_id);
  if (rows.empty()) {
    std::cerr << "supportd: no message <" << message_id << "> in the thread log\n";
    return 1;
  }
  for (const auto& m : rows) {
    std::cout << (m.direction == "in" ? "Inbound" : "Our reply") << " <" << m.message_id
              << ">\n  from:       " << m.from_address << "\n  subject:    " << m.subject
              << "\n  received:   " << format_time(m.created_at);
    if (m.key)
      std::cout << "\n  mailbox:    " << m.key->mailbox << " UIDVALIDITY " << m.key->uidvalidity
                << " UID " << m.key->uid << " (" << (m.state ? store::to_string(*m.state) : "")
                << (m.attempts ? ", " + std::to_string(m.attempts) + " failed attempts" : "")
                << ")";
    std::cout << "\n  decision:   " << m.decision << "\n  reason:     "
              << (m.reason.empty() ? "-" : m.reason) << "\n  category:   " << m.category
              << " (confidence " << m.confidence << ", language " << m.language
              << ")\n  keywords:   " << (m.keywords.empty() ? "-" : m.keywords) << "\n";
    if (auto t = db.thread(m.thread_id))
      std::cout << "  thread:     " << t->id << " [#" << t->ticket << "] "
                << store::to_string(t->status) << "\n";
    if (m.direction == "in")
      for (const auto& o : db.outbox_for_inbound(m.id))
        std::cout << "  reply:      <" << o.message_id << "> " << store::to_string(o.state)
                  << ", " << o.attempts << " failed attempts"
                  << (o.last_error.empty() ? "" : ", last error: " + o.last_error) << "\n";
  }
  return 0;
}

int cmd_threads_resolve(const std::string& config, std::int64_t id) {
  auto s = settings_or_exit(config);
  if (!s) return s.error();
  store::store db(s->store_path);
  if (!db.thread(id)) {
    std::cerr << "supportd: no thread " << id << "\n";
    return 1;
  }
  db.set_thread_status(id, store::thread_status::resolved);
  std::cout << "thread " << id << " resolved\n";
  return 0;
}

int cmd_run(const std::string& config, bool once) {
  // The few threads (the poll worker, one per SMTP connection, the resolver's) share one malloc
  // arena: a second arena kept about 0.5 MB of a drained backlog's heap that malloc_trim could
  // not return.
  mallopt(M_ARENA_MAX, 1);
  auto s = settings_or_exit(config);
  if (!s) return s.error();
  daemon::log::set_level(s->log_level);
  auto rt = daemon::load_checked_runtime(*s);
  if (!rt) {
    for (const auto& e : rt.error()) std::cerr << "supportd: " << e << "\n";
    return 2;
  }
  for (const auto& w : rt->warnings)
    daemon::log::warning("stage=start outcome=warning reason=\"" + w + "\"");
  transport::global_init();
  return daemon::run_service(*s, rt->rt, once);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"supportd: email support auto-responder"};
  app.require_subcommand(1);
  std::string config = default_config;

  auto* run = app.add_subcommand("run", "Run the daemon (poll IMAP, reply over SMTP)");
  bool once = false;
  run->add_option("--config,-c", config, "Config file")->capture_default_str();
  run->add_flag("--once", once, "Process what is waiting, then exit");

  auto* classify = app.add_subcommand("classify", "Classify .eml files offline (no network)");
  std::vector<std::string> files;
  bool as_json = false;
  std::string classify_config;
  // Installed rules first; from a build tree, the checkout's own rules.
  std::string rules_path = std::filesystem::exists(SUPPORTD_DEFAULT_RULES)
                               ? SUPPORTD_DEFAULT_RULES
                               : SUPPORTD_SOURCE_DIR "/config/categories.toml";
  std::string templates_dir = std::filesystem::exists(SUPPORTD_DEFAULT_TEMPLATES)
                                  ? SUPPORTD_DEFAULT_TEMPLATES
                                  : SUPPORTD_SOURCE_DIR "/templates";
  classify->add_option("--config,-c", classify_config, "Config file (for rules and addresses)");
  classify->add_option("--rules", rules_path, "Rules file when no --config")->capture_default_str();
  classify->add_flag("--json", as_json, "One JSON object per line");
  classify->add_option("files", files, ".eml files")->required();

  auto* replay = app.add_subcommand(
      "replay", "Preview: run a Maildir, mbox or folder of .eml through every decision, offline");
  std::string source;
  replay->add_option("--config,-c", classify_config, "Config file (rules, templates, limits)");
  replay->add_option("--rules", rules_path, "Rules file when no --config")->capture_default_str();
  replay->add_option("--templates", templates_dir, "Templates folder when no --config")
      ->capture_default_str();
  replay->add_flag("--json", as_json, "One JSON object per message instead of the tables");
  replay->add_option("path", source, "Maildir, mbox file, folder or .eml file")->required();

  auto* why = app.add_subcommand("why", "Explain the stored decision on a message");
  std::string message_id;
  why->add_option("--config,-c", config, "Config file")->capture_default_str();
  why->add_option("message-id", message_id, "Message-ID, with or without <>")->required();

  auto* check = app.add_subcommand("check-config", "Validate config, rules and templates");
  check->add_option("--config,-c", config, "Config file")->capture_default_str();

  auto* threads = app.add_subcommand("threads", "Review the thread log");
  threads->require_subcommand(1);
  threads->add_option("--config,-c", config, "Config file")->capture_default_str();
  auto* list = threads->add_subcommand("list", "List threads");
  std::string status;
  list->add_option("--status", status, "open, auto_replied, escalated, suppressed, resolved");
  list->add_flag("--json", as_json, "One JSON object per line");
  auto* show = threads->add_subcommand("show", "Show one thread with its messages");
  std::int64_t id = 0;
  show->add_option("id", id, "Thread id")->required();
  show->add_flag("--json", as_json, "JSON output");
  auto* resolve = threads->add_subcommand("resolve", "Mark a thread resolved");
  resolve->add_option("id", id, "Thread id")->required();
  for (auto* sub : {list, show, resolve})
    sub->add_option("--config,-c", config, "Config file")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  try {
    if (*run) return cmd_run(config, once);
    if (*classify) return cmd_classify(classify_config, rules_path, templates_dir, files, as_json);
    if (*replay) return cmd_replay(classify_config, rules_path, templates_dir, source, as_json);
    if (*why) return cmd_why(config, message_id);
    if (*check) return cmd_check_config(config);
    if (*list) return cmd_threads_list(config, status, as_json);
    if (*show) return cmd_threads_show(config, id, as_json);
    if (*resolve) return cmd_threads_resolve(config, id);
  } catch (const std::exception& e) {
    std::cerr << "supportd: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
