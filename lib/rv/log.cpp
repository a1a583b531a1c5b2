// Log lines to stderr, written whole with one write(2) so lines never interleave.
#include "rv/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "rv/error.hpp"

namespace rv::log {
namespace {
std::string program = "rv";
std::atomic<level> threshold{level::info};

const char* name_of(level l) {
  switch (l) {
    case level::error: return "error";
    case level::warn: return "warn";
    case level::info: return "info";
    case level::debug: return "debug";
  }
  return "?";
}
}  // namespace

void set_program(std::string_view name) { program = std::string(name); }
void set_level(level l) { threshold = l; }
level current_level() { return threshold; }

level parse_level(std::string_view text) {
  if (text == "error") return level::error;
  if (text == "warn" || text == "warning") return level::warn;
  if (text == "info") return level::info;
  if (text == "debug") return level::debug;
  throw config_error("--log-level must be one of error, warn, info, debug (got '" +
                     std::string(text) + "')");
}

void write(level l, std::string_view message) {
  // RFC 3339 UTC with milliseconds: readable in tmux, sortable in a journal.
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  line.reserve(message.size() + 64);
  line += stamp;
  line += ' ';
  line += program;
  line += ' ';
  line += name_of(l);
  line += ": ";
  line += message;
  line += '\n';
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(2, p, left);
    if (n <= 0) return;  // stderr closed: nothing sensible to do
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace rv::log
