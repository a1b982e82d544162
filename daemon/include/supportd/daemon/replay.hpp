#pragma once
// `supportd replay`: a Maildir, an mbox file, a folder of .eml files (or single files) through
// the whole decision path offline, on a scratch thread log, so operators preview before go-live.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "supportd/daemon/pipeline.hpp"
#include "supportd/store/store.hpp"

namespace supportd::daemon {

/// One message found in a replay source.
struct replay_message {
  std::string name;  // file name, or "mbox-file#n"
  std::string raw;
};

/// Reads every message of `path`: Maildir (cur/ and new/), an mbox file ("From " separated,
/// ">From " unquoted per mboxrd), a folder of files (recursively, sorted) or one file.
/// `sink` receives each message in order; returns an error text or "".
std::string read_replay_source(const std::filesystem::path& path,
                               const std::function<void(replay_message&&)>& sink);

/// What replay reports about one message.
struct replay_row {
  std::string message;  // replay_message::name
  std::string from;
  std::string subject;   // as stored: secrets already removed
  std::string decision;  // auto_reply, escalate, suppress, hold, duplicate, quarantine
  std::string category;
  double confidence = 0;
  std::string language;
  std::string template_name;     // "<lang>/<category>" of the reply it would send, or ""
  std::string template_version;  // content hash of that template
  std::string reason;            // the pipeline's full reason
  std::string ticket;
};

/// The row of one processed message, from the pipeline's outcome and its stored inbound row.
[[nodiscard]] replay_row make_replay_row(std::string message, const outcome& o,
                                         const std::optional<store::message_row>& inbound);

/// The template a row would send (and any note, e.g. that the thread is escalated as well),
/// or why it stays silent.
[[nodiscard]] std::string replay_verdict(const replay_row& row);

/// One line per message, aligned for a terminal: message, from, subject (cut to fit, Chinese
/// counted as two columns), decision, category, confidence, language, template or reason.
[[nodiscard]] std::string replay_table(const std::vector<replay_row>& rows);

/// Counts per decision, then per category and language.
[[nodiscard]] std::string replay_summary(const std::vector<replay_row>& rows);

}  // namespace supportd::daemon
