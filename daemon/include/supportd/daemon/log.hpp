#pragma once
// Minimal structured logging to stderr; under systemd each line carries its syslog priority
// prefix ("<3>") so the journal records the level (sd-daemon(3)).

#include <string_view>

namespace supportd::daemon::log {

enum class level { debug = 7, info = 6, warning = 4, error = 3 };

/// Sets the lowest level that is written ("debug", "info", "warning", "error").
void set_level(std::string_view name);
/// Writes one line: "stage=... key=value ..." style messages are the convention.
void write(level lv, std::string_view message);

inline void debug(std::string_view m) { write(level::debug, m); }
inline void info(std::string_view m) { write(level::info, m); }
inline void warning(std::string_view m) { write(level::warning, m); }
inline void error(std::string_view m) { write(level::error, m); }

}  // namespace supportd::daemon::log
