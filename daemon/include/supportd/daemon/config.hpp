#pragma once
// The daemon's configuration file (TOML), parsed once into immutable settings.

#include <chrono>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "supportd/mime/message.hpp"
#include "supportd/transport/transport.hpp"

namespace supportd::daemon {

/// A config problem with its place, for check-config and startup errors.
struct config_error {
  std::string file;
  int line = 0;
  std::string message;
  [[nodiscard]] std::string to_string() const;
};

struct imap_settings {
  transport::endpoint endpoint;
  std::chrono::seconds poll_interval{30};
  std::size_t batch_size = 50;  // messages fetched per cycle step before delivering replies
  /// During an IMAP outage the retry interval doubles from poll_interval up to this.
  std::chrono::seconds reconnect_max{300};
};

struct smtp_settings {
  transport::endpoint endpoint;
  /// Envelope sender of auto-replies: "" sends MAIL FROM:<> as Sieve vacation does (RFC 3834 §4).
  std::string envelope_from;
  std::chrono::seconds retry_base{30};  // first retry after a transient failure (then doubling)
  std::chrono::seconds retry_max{3600};
  int max_attempts = 30;  // then the reply is marked failed and its thread escalated
  /// SMTP connections used at once to work through the outbox; each reply goes over exactly one.
  int connections = 1;
};

struct reply_settings {
  mime::mailbox from;                   // From: of our replies
  std::vector<std::string> addresses;   // all our own addresses, lower case
  std::string message_id_domain;        // domain of our Message-IDs (default: from's domain)
  /// RFC 5230 §4.5: answer only mail that names one of our addresses in To/Cc.
  bool require_addressed = true;
  /// Kill switch: false decides and logs everything but queues no reply (decision "hold").
  bool enabled = true;
  /// RFC 5230 :days: one reply per sender and category within this window.
  std::chrono::hours repeat_window{24};
  int max_per_recipient_per_day = 5;
  /// Global send rate; replies over it wait in the outbox, never dropped.
  int max_per_minute = 60;
  /// Mail that arrived in the mailbox (INTERNALDATE) longer ago than this is logged as backlog,
  /// never auto-answered: importing an old mailbox cannot flood customers. 0 disables.
  std::chrono::hours max_age{24};
};

/// The agents' page and /metrics (off unless enabled; loopback by default).
struct web_settings {
  bool enabled = false;
  std::string address = "127.0.0.1";
  int port = 8025;
  std::filesystem::path token_file;  // relative names: $CREDENTIALS_DIRECTORY first
  std::chrono::hours session{12};
};

/// Escalated threads must get a person's answer within a deadline; late ones are raised in
/// priority and listed in a daily digest mailed to the agents.
struct followup_settings {
  std::chrono::hours deadline{24};                       // default for every category
  std::vector<std::pair<std::string, std::chrono::hours>> deadlines;  // per category
  std::string digest_to;  // empty: no digest
  int digest_hour = 9;    // UTC hour after which the day's digest is sent
  [[nodiscard]] std::chrono::hours deadline_for(std::string_view category) const;
};

struct settings {
  std::filesystem::path source;  // the config file
  imap_settings imap;
  smtp_settings smtp;
  reply_settings reply;
  std::filesystem::path store_path;
  std::filesystem::path rules_path;
  std::filesystem::path templates_dir;
  /// [templates] link_domains: the hosts templates may link to, with their subdomains (lower
  /// case). Unset: links outside the domains of [reply] are warnings instead of errors.
  std::optional<std::vector<std::string>> link_domains;
  web_settings web;
  followup_settings followup;
  std::string log_level = "info";
};

/// Reads and validates a config file. Relative paths in it are relative to the file's folder.
/// Passwords: `password_file` (relative names are looked up in $CREDENTIALS_DIRECTORY first),
/// else `password_env` (an environment variable name).
[[nodiscard]] std::expected<settings, config_error> load_settings(const std::filesystem::path& file);

}  // namespace supportd::daemon
