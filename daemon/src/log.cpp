#include "supportd/daemon/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace supportd::daemon::log {

namespace {
std::atomic<int> min_level{static_cast<int>(level::info)};
std::mutex out_mutex;
// The journal adds its own timestamps and parses "<N>" priority prefixes.
const bool to_journal = std::getenv("JOURNAL_STREAM") != nullptr;
}  // namespace

void set_level(std::string_view name) {
  level lv = name == "debug" ? level::debug
             : name == "warning" ? level::warning
             : name == "error" ? level::error
                               : level::info;
  min_level = static_cast<int>(lv);
}

void write(level lv, std::string_view message) {
  if (static_cast<int>(lv) > min_level) return;
  std::string line;
  if (to_journal) {
    // Appended, not "<" + ...: GCC 12 at -O3 warns falsely on that (-Wrestrict, PR 105329).
    line.append("<").append(std::to_string(static_cast<int>(lv))).append(">");
  } else {
    static constexpr const char* names[] = {"", "", "", "error", "warning", "", "info", "debug"};
    line = std::string(names[static_cast<int>(lv)]) + ": ";
  }
  line += message;
  line += '\n';
  std::lock_guard lock(out_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace supportd::daemon::log
