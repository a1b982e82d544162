#pragma once
// RAII test fixture: real Dovecot (IMAP) and an SMTP sink on loopback, in a fresh temp folder,
// driven through tests/harness/mailservers.py. Header-only; link supportd::mail_servers
// (tests/harness/harness.cmake). Throws std::runtime_error when the servers cannot start.

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern char** environ;

namespace supportd::test {

/// One message the SMTP sink accepted (files NNNNNN.eml + NNNNNN.json in dir()/smtp).
struct received_message {
  std::string mail_from;              // "<>" for a null reverse path
  std::vector<std::string> rcpt_tos;  // accepted recipients only
  std::string data;                   // DATA bytes as received (CRLF, dot-unstuffed)
  std::string auth_user;              // empty without SMTP AUTH
  std::filesystem::path file;         // the .eml file
};

/// Result of running the harness script.
struct command_result {
  int exit_code = -1;
  std::string output;  // stdout
};

/// Runs `/usr/bin/python3 mailservers.py args...` without a shell; captures stdout.
inline command_result run_harness(const std::vector<std::string>& args) {
  std::vector<std::string> argv_text{SUPPORTD_HARNESS_PYTHON, SUPPORTD_MAILSERVERS_PY};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  command_result result;
  if (rc != 0) {
    close(fds[0]);
    throw std::system_error(rc, std::generic_category(), "posix_spawn " SUPPORTD_HARNESS_PYTHON);
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// Dovecot + SMTP sink for one test; stopped and deleted in the destructor.
class mail_servers {
 public:
  static constexpr std::string_view user = "support@okpay-wallet.example";
  static constexpr std::string_view other_user = "other@okpay-wallet.example";
  static constexpr std::string_view password = "test";

  /// Starts both servers in a new folder under $TMPDIR (or /tmp).
  mail_servers() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/supportd-mail-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    dir_ = pattern;
    // --owner-pid: the servers stop by themselves if this test process dies without cleanup.
    const auto r = run_harness({"start", "--dir", dir_.string(), "--owner-pid", std::to_string(getpid())});
    if (r.exit_code != 0) {
      std::filesystem::remove_all(dir_);
      throw std::runtime_error("mailservers.py start failed (exit " + std::to_string(r.exit_code) + ")");
    }
    std::ifstream in(dir_ / "servers.json");
    const auto state = nlohmann::json::parse(in);
    imap_port_ = state.at("imap_port").get<int>();
    smtp_port_ = state.at("smtp_port").get<int>();
    imaps_port_ = state.at("imaps_port").is_null() ? 0 : state.at("imaps_port").get<int>();
  }

  /// Stops both servers; keeps the folder when SUPPORTD_KEEP_MAIL_DIR is set (debugging).
  ~mail_servers() {
    try {
      run_harness({"stop", "--dir", dir_.string()});
      if (std::getenv("SUPPORTD_KEEP_MAIL_DIR") == nullptr) {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
      }
    } catch (...) {  // a destructor must not throw; the folder is in $TMPDIR anyway
    }
  }
  mail_servers(const mail_servers&) = delete;
  mail_servers& operator=(const mail_servers&) = delete;

  /// The folder holding servers.json, dovecot/, mail/, smtp/.
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] int imap_port() const { return imap_port_; }
  [[nodiscard]] int smtp_port() const { return smtp_port_; }
  /// 0 when openssl was unavailable (no IMAPS listener).
  [[nodiscard]] int imaps_port() const { return imaps_port_; }
  /// "imap://127.0.0.1:PORT/INBOX".
  [[nodiscard]] std::string imap_url(std::string_view mailbox = "INBOX") const {
    return "imap://127.0.0.1:" + std::to_string(imap_port_) + "/" + std::string(mailbox);
  }
  /// "imaps://127.0.0.1:PORT/INBOX" (self-signed: skip verification in tests).
  [[nodiscard]] std::string imaps_url(std::string_view mailbox = "INBOX") const {
    return "imaps://127.0.0.1:" + std::to_string(imaps_port_) + "/" + std::string(mailbox);
  }
  /// "smtp://127.0.0.1:PORT".
  [[nodiscard]] std::string smtp_url() const { return "smtp://127.0.0.1:" + std::to_string(smtp_port_); }

  /// APPENDs .eml files (bare LF becomes CRLF) to the user's INBOX; returns their UIDs in order.
  std::vector<std::int64_t> append(const std::vector<std::filesystem::path>& files,
                                   std::string_view to_user = user) const {
    if (files.empty()) return {};
    std::vector<std::string> args{"append", "--dir", dir_.string(), "--user", std::string(to_user)};
    for (const auto& f : files) args.push_back(f.string());
    const auto r = run_harness(args);
    if (r.exit_code != 0) throw std::runtime_error("mailservers.py append failed");
    std::vector<std::int64_t> uids;
    std::istringstream words(r.output);
    for (std::int64_t uid = 0; words >> uid;) uids.push_back(uid);
    return uids;
  }

  /// The flags of one message as Dovecot reports them, e.g. "\\Answered \\Seen".
  [[nodiscard]] std::string flags(std::int64_t uid, std::string_view of_user = user) const {
    const auto r = run_harness({"flags", "--dir", dir_.string(), "--user", std::string(of_user), "--uid",
                                std::to_string(uid)});
    if (r.exit_code != 0) throw std::runtime_error("mailservers.py flags failed");
    std::string text = r.output;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }

  /// Messages the SMTP sink accepted, oldest first.
  [[nodiscard]] std::vector<received_message> received_messages() const {
    std::vector<std::filesystem::path> sidecars;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "smtp", ec)) {
      if (entry.path().extension() == ".json") sidecars.push_back(entry.path());
    }
    std::ranges::sort(sidecars);
    std::vector<received_message> out;
    for (const auto& path : sidecars) {
      std::ifstream in(path);
      const auto meta = nlohmann::json::parse(in);
      received_message m;
      m.mail_from = meta.at("mail_from").get<std::string>();
      m.rcpt_tos = meta.at("rcpt_tos").get<std::vector<std::string>>();
      if (meta.contains("auth_user") && meta.at("auth_user").is_string()) {
        m.auth_user = meta.at("auth_user").get<std::string>();
      }
      m.file = path;
      m.file.replace_extension(".eml");
      std::ifstream eml(m.file, std::ios::binary);
      m.data.assign(std::istreambuf_iterator<char>(eml), std::istreambuf_iterator<char>());
      out.push_back(std::move(m));
    }
    return out;
  }

  /// Makes the sink refuse: rule "451" or "550" (at end of DATA), or "CODE mail|rcpt|data".
  void set_smtp_reject(std::string_view rule) const {
    std::ofstream(dir_ / "smtp" / "reject") << rule << '\n';
  }
  /// Back to accepting everything.
  void clear_smtp_reject() const { std::filesystem::remove(dir_ / "smtp" / "reject"); }

  /// Stop or restart one server (same port), for fault tests.
  void stop_imap() const { control("stop-imap"); }
  void start_imap() const { control("start-imap"); }
  void stop_smtp() const { control("stop-smtp"); }
  void start_smtp() const { control("start-smtp"); }

 private:
  void control(const std::string& command) const {
    if (run_harness({command, "--dir", dir_.string()}).exit_code != 0) {
      throw std::runtime_error("mailservers.py " + command + " failed");
    }
  }

  std::filesystem::path dir_;
  int imap_port_ = 0;
  int smtp_port_ = 0;
  int imaps_port_ = 0;
};

}  // namespace supportd::test
