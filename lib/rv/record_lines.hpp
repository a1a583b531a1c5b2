// Text files of records, one per line, fields separated by spaces or tabs,
// '#' starting a comment, blank lines allowed: the secrets and names files.
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

namespace rv {

struct record_line {
  std::size_t number = 0;                // 1-based, for messages
  std::vector<std::string_view> fields;  // views into the text; never empty
};

// The fields of one line (no comment handling).
std::vector<std::string_view> split_fields(std::string_view line);

// Calls each(record_line) for every line that has fields, after dropping a
// trailing CR (files edited on Windows) and everything from '#' on.
template <class Each>
void for_each_record(std::string_view text, Each each) {
  record_line record;
  while (!text.empty()) {
    ++record.number;
    auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = line.substr(0, line.find('#'));
    record.fields = split_fields(line);
    if (!record.fields.empty()) each(record);
  }
}

// Throws rv::config_error "ORIGIN:NUMBER: WHAT". Messages name the line and
// should not echo its fields: a mistyped secrets line may hold the secret anywhere.
[[noreturn]] void fail_at(std::string_view origin, std::size_t number, std::string_view what);

}  // namespace rv
