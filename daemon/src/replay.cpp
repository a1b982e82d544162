#include "supportd/daemon/replay.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "supportd/daemon/table.hpp"

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

replay_row make_replay_row(std::string message, const outcome& o,
                           const std::optional<store::message_row>& inbound) {
  replay_row r;
  r.message = std::move(message);
  r.decision = o.decision;
  r.reason = o.reason;
  r.ticket = o.ticket;
  if (inbound) {
    r.from = inbound->from_address;
    r.subject = inbound->subject;
    r.category = inbound->category;
    r.confidence = inbound->confidence;
    r.language = inbound->language;
  }
  // The pipeline writes "…; template <lang>/<category>@<version>; …" when it queues a reply.
  if (r.decision == "auto_reply") {
    if (auto pos = o.reason.find("template "); pos != std::string::npos) {
      std::string name = o.reason.substr(pos + 9, o.reason.find(';', pos) - pos - 9);
      if (auto at = name.find('@'); at != std::string::npos) {
        r.template_version = name.substr(at + 1);
        name.resize(at);
      }
      r.template_name = std::move(name);
    }
  }
  return r;
}

std::string replay_verdict(const replay_row& row) {
  if (row.template_name.empty()) return row.reason;
  std::string notes;
  std::size_t start = 0;
  while (start <= row.reason.size()) {
    std::size_t end = row.reason.find("; ", start);
    if (end == std::string::npos) end = row.reason.size();
    const std::string part = row.reason.substr(start, end - start);
    if (!part.empty() && !part.starts_with("template "))
      notes += (notes.empty() ? "" : "; ") + part;
    start = end + 2;
  }
  return notes.empty() ? row.template_name : row.template_name + " (" + notes + ")";
}

std::string replay_table(const std::vector<replay_row>& rows) {
  text_table table({{"MESSAGE", 28, false, cut::middle},
                    {"FROM", 28},
                    {"SUBJECT", 36},
                    {"DECISION"},
                    {"CATEGORY"},
                    {"CONF", 0, true},
                    {"LANG"},
                    {"TEMPLATE OR REASON"}});
  for (const auto& r : rows) {
    char confidence[16];
    std::snprintf(confidence, sizeof confidence, "%.2f", r.confidence);
    table.add({r.message, r.from, r.subject, r.decision, r.category, confidence, r.language,
               replay_verdict(r)});
  }
  return table.render();
}

std::string replay_summary(const std::vector<replay_row>& rows) {
  std::map<std::string, std::size_t> by_decision;
  std::map<std::string, std::map<std::string, std::size_t>> by_category;  // category → language
  std::set<std::string> languages;
  for (const auto& r : rows) {
    ++by_decision[r.decision];
    const std::string language = r.language.empty() ? "-" : r.language;
    ++by_category[r.category.empty() ? "-" : r.category][language];
    languages.insert(language);
  }
  auto percent = [&](std::size_t n) {
    return std::to_string(rows.empty() ? 0 : (n * 100 + rows.size() / 2) / rows.size()) + "%";
  };
  text_table decisions({{"DECISION"}, {"MESSAGES", 0, true}, {"SHARE", 0, true}});
  for (const auto& [decision, n] : by_decision)
    decisions.add({decision, std::to_string(n), percent(n)});
  decisions.add({"all", std::to_string(rows.size()), percent(rows.size())});

  std::vector<text_table::column> columns{{"CATEGORY"}};
  for (const auto& l : languages) columns.push_back({l, 0, true});
  columns.push_back({"ALL", 0, true});
  text_table categories(std::move(columns));
  std::map<std::string, std::size_t> per_language;
  for (const auto& [category, counts] : by_category) {
    std::vector<std::string> cells{category};
    std::size_t all = 0;
    for (const auto& l : languages) {
      const auto it = counts.find(l);
      const std::size_t n = it == counts.end() ? 0 : it->second;
      cells.push_back(std::to_string(n));
      per_language[l] += n;
      all += n;
    }
    cells.push_back(std::to_string(all));
    categories.add(std::move(cells));
  }
  std::vector<std::string> totals{"all"};
  for (const auto& l : languages) totals.push_back(std::to_string(per_language[l]));
  totals.push_back(std::to_string(rows.size()));
  categories.add(std::move(totals));

  return "Summary: " + std::to_string(rows.size()) + (rows.size() == 1 ? " message" : " messages") +
         "\n\n" + decisions.render() + "\n" + categories.render();
}

}  // namespace supportd::daemon
