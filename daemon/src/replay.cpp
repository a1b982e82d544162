#include "supportd/daemon/replay.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace supportd::daemon {

namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool is_mbox(const std::string& head) { return head.starts_with("From "); }

/// Splits an mbox (RFC 4155) at "From " lines; unquotes ">From " (mboxrd).
void split_mbox(const std::string& text, const std::string& name,
                const std::function<void(replay_message&&)>& sink) {
  std::size_t pos = 0;
  int n = 0;
  while (pos < text.size()) {
    std::size_t body = text.find('\n', pos);
    if (body == std::string::npos) break;
    ++body;  // skip the "From " envelope line
    std::size_t next = text.find("\nFrom ", body);
    std::size_t end = next == std::string::npos ? text.size() : next + 1;
    std::string raw;
    raw.reserve(end - body);
    std::size_t line = body;
    while (line < end) {
      std::size_t eol = text.find('\n', line);
      if (eol == std::string::npos || eol >= end) eol = end - 1;
      std::string_view l(text.data() + line, eol - line + 1);
      std::size_t gt = 0;
      while (gt < l.size() && l[gt] == '>') ++gt;
      if (gt > 0 && l.substr(gt).starts_with("From ")) l.remove_prefix(1);
      raw.append(l);
      line = eol + 1;
    }
    sink({name + "#" + std::to_string(++n), std::move(raw)});
    pos = end;
  }
}

void read_file(const fs::path& p, const std::function<void(replay_message&&)>& sink) {
  std::string text = slurp(p);
  if (is_mbox(text))
    split_mbox(text, p.filename().string(), sink);
  else
    sink({p.filename().string(), std::move(text)});
}

}  // namespace

std::string read_replay_source(const fs::path& path,
                               const std::function<void(replay_message&&)>& sink) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "no such file or folder: " + path.string();
  if (fs::is_regular_file(path, ec)) {
    read_file(path, sink);
    return {};
  }
  std::vector<fs::path> files;
  // A Maildir keeps messages in cur/ and new/ (tmp/ holds deliveries in progress).
  bool maildir = fs::is_directory(path / "cur", ec) || fs::is_directory(path / "new", ec);
  if (maildir) {
    for (const char* sub : {"cur", "new"})
      if (fs::is_directory(path / sub, ec))
        for (const auto& e : fs::directory_iterator(path / sub, ec))
          if (e.is_regular_file()) files.push_back(e.path());
  } else {
    for (auto it = fs::recursive_directory_iterator(path, ec); it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (it->is_regular_file() && it->path().filename().string().front() != '.')
        files.push_back(it->path());
  }
  if (ec) return "cannot read " + path.string() + ": " + ec.message();
  std::sort(files.begin(), files.end());
  for (const auto& f : files) read_file(f, sink);
  return {};
}

}  // namespace supportd::daemon
