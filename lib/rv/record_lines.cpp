// Splitting record lines, and the error that names one.
#include "rv/record_lines.hpp"

#include <string>

#include "rv/error.hpp"

namespace rv {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t i = 0;
  while ((i = line.find_first_not_of(" \t", i)) != std::string_view::npos) {
    std::size_t end = line.find_first_of(" \t", i);
    if (end == std::string_view::npos) end = line.size();
    fields.push_back(line.substr(i, end - i));
    i = end;
  }
  return fields;
}

void fail_at(std::string_view origin, std::size_t number, std::string_view what) {
  throw config_error(std::string(origin) + ":" + std::to_string(number) + ": " + std::string(what));
}

}  // namespace rv
