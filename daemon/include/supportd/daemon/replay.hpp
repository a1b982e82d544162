#pragma once
// `supportd replay`: a Maildir, an mbox file, a folder of .eml files (or single files) through
// the whole decision path offline, on a scratch thread log, so operators preview before go-live.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

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

}  // namespace supportd::daemon
