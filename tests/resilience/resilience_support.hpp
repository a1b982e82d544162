#pragma once
// Shared pieces of the resilience tests: the real supportd binary against real Dovecot and the
// SMTP sink, generated test mail, and read-only views of the daemon's ledger (SQLite) and log.

#include <gtest/gtest.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <chrono>
#include <ctime>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/mail_servers.hpp"
#include "integration/process.hpp"
#include "supportd/mime/message.hpp"

namespace supportd::test::resilience {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline const fs::path data_dir = fs::path(SUPPORTD_TEST_DATA) / "resilience";

/// Reads a whole file as bytes ("" when it does not exist).
inline std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Replaces every occurrence of `from` in `text`.
inline void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size()))
    text.replace(pos, from.size(), to);
}

/// Counts the lines of `text` that contain `needle`.
inline int count_lines(const std::string& text, std::string_view needle) {
  std::istringstream lines(text);
  int n = 0;
  for (std::string line; std::getline(lines, line);) n += line.find(needle) != std::string::npos;
  return n;
}

/// The current time as an RFC 5322 §3.3 date, so no mail looks like an old backlog.
inline std::string rfc5322_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

/// Polls `done` every 100 ms until it holds or `timeout` passes; returns its last value.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return done();
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

/// One generated test message.
struct mail {
  fs::path file;
  std::string message_id;  // without angle brackets
  std::string sender;      // the From address
  bool human = true;       // people get exactly one reply, machines none
};

/// Writes test mail from the templates in tests/data/resilience (placeholders @N@, @ID@,
/// @FROM@, @NAME@, @DATE@) into a folder, each with its own Message-ID.
class mail_factory {
 public:
  mail_factory(fs::path out_dir, std::string tag) : dir_(std::move(out_dir)), tag_(std::move(tag)) {
    fs::create_directories(dir_);
  }

  /// A message from template `name` (without .eml), numbered `n`, from `sender`.
  mail make(const std::string& name, int n, const std::string& sender, const std::string& display,
            bool human) {
    std::string text = template_text(name);
    mail m;
    m.message_id = tag_ + "-" + std::to_string(n) + "." + name + "@" + tag_ + ".test";
    m.sender = sender;
    m.human = human;
    replace_all(text, "@N@", std::to_string(n));
    replace_all(text, "@ID@", m.message_id);
    replace_all(text, "@FROM@", sender);
    replace_all(text, "@NAME@", display);
    replace_all(text, "@DATE@", rfc5322_now());
    m.file = dir_ / (tag_ + "-" + std::to_string(n) + ".eml");
    std::ofstream(m.file, std::ios::binary) << text;
    return m;
  }

  /// A message with exactly these bytes (hostile input).
  mail raw(const std::string& file_name, const std::string& bytes, std::string message_id = {}) {
    mail m;
    m.file = dir_ / file_name;
    m.message_id = std::move(message_id);
    std::ofstream(m.file, std::ios::binary) << bytes;
    return m;
  }

  [[nodiscard]] const fs::path& dir() const { return dir_; }

 private:
  const std::string& template_text(const std::string& name) {
    auto it = cache_.find(name);
    if (it == cache_.end()) {
      std::string text = slurp(data_dir / (name + ".eml"));
      if (text.empty()) throw std::runtime_error("missing template " + name + ".eml");
      it = cache_.emplace(name, std::move(text)).first;
    }
    return it->second;
  }

  fs::path dir_;
  std::string tag_;
  std::map<std::string, std::string> cache_;
};

/// Human templates (zh and en, several categories) and machine templates.
inline const std::vector<std::string> human_templates = {
    "human_en_withdrawal", "human_zh_payment", "human_en_password", "human_zh_frozen_gb2312",
    "human_en_fees"};
inline const std::vector<std::string> machine_templates = {"machine_bounce", "machine_autoreply",
                                                           "machine_newsletter"};

/// One inbound row of the ledger (messages table, direction 'in').
struct ledger_row {
  std::int64_t uid = 0;
  std::string message_id;
  std::string decision;
  std::string reason;
  std::string state;
  std::int64_t thread_id = 0;
};

/// One row of the outbox.
struct outbox_row {
  std::string message_id;
  std::string recipients;
  std::string state;
  int attempts = 0;
  std::string last_error;
};

/// The daemon's SQLite database, opened read-only for each look (the daemon may be running).
inline std::vector<ledger_row> read_ledger(const fs::path& db_file) {
  std::vector<ledger_row> rows;
  if (!fs::exists(db_file)) return rows;
  SQLite::Database db(db_file.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  if (!db.tableExists("messages")) return rows;  // killed before it created its schema
  SQLite::Statement q(db,
                      "SELECT uid, message_id, decision, reason, state, coalesce(thread_id, 0) "
                      "FROM messages WHERE direction = 'in' ORDER BY uid");
  while (q.executeStep()) {
    rows.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                    q.getColumn(2).getString(), q.getColumn(3).getString(),
                    q.getColumn(4).getString(), q.getColumn(5).getInt64()});
  }
  return rows;
}

inline std::vector<outbox_row> read_outbox(const fs::path& db_file) {
  std::vector<outbox_row> rows;
  if (!fs::exists(db_file)) return rows;
  SQLite::Database db(db_file.string(), SQLite::OPEN_READONLY);
  db.setBusyTimeout(5000);
  if (!db.tableExists("outbox")) return rows;
  SQLite::Statement q(db, "SELECT message_id, recipients, state, attempts, last_error FROM outbox ORDER BY id");
  while (q.executeStep()) {
    rows.push_back({q.getColumn(0).getString(), q.getColumn(1).getString(),
                    q.getColumn(2).getString(), q.getColumn(3).getInt(),
                    q.getColumn(4).getString()});
  }
  return rows;
}

/// A ledger row is final once it carries a decision and is past the 'seen' state.
inline bool is_final(const ledger_row& r) { return !r.decision.empty() && r.state != "seen"; }

/// The In-Reply-To of a message the sink received, read back with our own MIME parser.
inline std::string in_reply_to(const received_message& m) {
  auto parsed = mime::parse_message(m.data);
  return parsed ? parsed->in_reply_to : std::string();
}

/// Replies at the sink counted by the Message-ID they answer.
inline std::map<std::string, int> replies_by_in_reply_to(const std::vector<received_message>& got) {
  std::map<std::string, int> out;
  for (const auto& m : got) ++out[in_reply_to(m)];
  return out;
}

/// How one supportd instance is configured.
struct instance {
  std::string name = "a";  // folder under the servers' dir
  std::string imap_user{mail_servers::user};
  std::string from = "OKPay Support <support@okpay-wallet.example>";
  std::vector<std::string> addresses{std::string(mail_servers::user)};
  std::string message_id_domain;  // empty: the default (from's domain)
  std::string imap_extra = "poll_seconds = 1\n";
  std::string smtp_extra;
  // Tests send bursts far above a production rate limit; flood tests lower the caps.
  std::string reply_extra = "max_per_minute = 1000000\n";
};

/// Base fixture: fresh mail servers, config writing, running the binary.
class resilience_test : public ::testing::Test {
 protected:
  void SetUp() override { servers_ = std::make_unique<mail_servers>(); }

  /// Writes DIR/<name>/supportd.toml (+ imap.secret) and returns its path.
  fs::path write_config(const instance& in) {
    const fs::path home = servers_->dir() / in.name;
    fs::create_directories(home / "state");
    std::ofstream(home / "imap.secret") << mail_servers::password << "\n";
    std::ostringstream toml;
    toml << "[imap]\nurl = \"" << servers_->imap_url() << "\"\nuser = \"" << in.imap_user
         << "\"\npassword_file = \"imap.secret\"\n"
         << in.imap_extra << "[smtp]\nurl = \"" << servers_->smtp_url() << "\"\n"
         << in.smtp_extra << "[reply]\nfrom = \"" << in.from << "\"\naddresses = [";
    for (std::size_t i = 0; i < in.addresses.size(); ++i)
      toml << (i ? ", " : "") << "\"" << in.addresses[i] << "\"";
    toml << "]\n";
    if (!in.message_id_domain.empty())
      toml << "message_id_domain = \"" << in.message_id_domain << "\"\n";
    toml << in.reply_extra << "[store]\npath = \"state/supportd.db\"\n"
         << "[classifier]\nrules = \"" << SUPPORTD_SOURCE_DIR << "/config/categories.toml\"\n"
         << "[templates]\ndir = \"" << SUPPORTD_SOURCE_DIR << "/templates\"\n";
    const fs::path config = home / "supportd.toml";
    std::ofstream(config) << toml.str();
    return config;
  }

  [[nodiscard]] fs::path db_of(const instance& in) const {
    return servers_->dir() / in.name / "state" / "supportd.db";
  }

  /// Runs `supportd args...` to completion, output captured.
  run_result supportd(std::vector<std::string> args) {
    args.insert(args.begin(), SUPPORTD_BINARY);
    return run(args, (servers_->dir() / ("cmd" + std::to_string(++runs_) + ".log")).string());
  }
  run_result once(const fs::path& config) {
    return supportd({"run", "--once", "--config", config.string()});
  }
  /// check-config must accept what the tests write (unknown keys are errors).
  void expect_valid(const fs::path& config) {
    auto r = supportd({"check-config", "--config", config.string()});
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }

  /// Starts `supportd run` in the background, output to `log`.
  std::unique_ptr<child> start_daemon(const fs::path& config, const fs::path& log) {
    return std::make_unique<child>(
        std::vector<std::string>{SUPPORTD_BINARY, "run", "--config", config.string()},
        log.string());
  }

  std::vector<std::int64_t> append(const std::vector<mail>& mails,
                                   std::string_view user = mail_servers::user) {
    std::vector<fs::path> files;
    for (const auto& m : mails) files.push_back(m.file);
    return servers_->append(files, user);
  }

  /// `threads list --json`, one object per thread.
  std::vector<nlohmann::json> threads(const fs::path& config) {
    auto r = supportd({"threads", "list", "--json", "--config", config.string()});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    std::vector<nlohmann::json> out;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);)
      if (!line.empty() && line.front() == '{') out.push_back(nlohmann::json::parse(line));
    return out;
  }
  /// `threads show ID --json`.
  nlohmann::json thread(const fs::path& config, std::int64_t id) {
    auto r = supportd({"threads", "show", std::to_string(id), "--json", "--config", config.string()});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    auto brace = r.out.find('{');
    return brace == std::string::npos ? nlohmann::json{} : nlohmann::json::parse(r.out.substr(brace));
  }

  std::unique_ptr<mail_servers> servers_;
  int runs_ = 0;
};

}  // namespace supportd::test::resilience
