// One event per line on stderr: "2026-11-27T13:01:02.345Z rvserver info: event key=value ...".
// stderr always: rvconnect's stdout is the tunnel.
#pragma once
#include <sstream>
#include <string>
#include <string_view>

namespace rv::log {

enum class level { error = 0, warn = 1, info = 2, debug = 3 };

// Set once at start-up by run_main from --log-level.
void set_program(std::string_view name);
void set_level(level l);
level current_level();
// "error", "warn", "info", "debug" -> level; throws rv::config_error otherwise.
level parse_level(std::string_view text);

void write(level l, std::string_view message);

template <class... Args>
void emit(level l, const Args&... args) {
  if (l > current_level()) return;
  std::ostringstream out;
  (out << ... << args);
  write(l, out.str());
}

template <class... Args> void error(const Args&... a) { emit(level::error, a...); }
template <class... Args> void warn(const Args&... a) { emit(level::warn, a...); }
template <class... Args> void info(const Args&... a) { emit(level::info, a...); }
template <class... Args> void debug(const Args&... a) { emit(level::debug, a...); }

}  // namespace rv::log
