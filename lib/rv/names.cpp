// rvconnect's names file: NAME UUID [SERVER:PORT] lines, and looking a target up in it.
#include "rv/names.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "rv/error.hpp"
#include "rv/protocol.hpp"
#include "rv/record_lines.hpp"

namespace rv {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

names_table parse_names(std::string_view text, std::string_view origin) {
  names_table table;
  for_each_record(text, [&](const record_line& record) {
    const auto& fields = record.fields;
    auto fail = [&](const std::string& what) { fail_at(origin, record.number, what); };
    if (fields.size() < 2) fail("expected: NAME UUID [SERVER:PORT]");
    if (fields.size() > 3) fail("extra fields after SERVER:PORT");
    name_entry entry;
    entry.name = fields[0];
    entry.uuid = fields[1];
    entry.line = record.number;
    if (!valid_uuid(entry.uuid)) fail("invalid UUID '" + entry.uuid + "' (1..128 of A-Z a-z 0-9 . _ ~ -)");
    if (fields.size() == 3) {
      entry.server = parse_endpoint(fields[2]);
      if (!entry.server) fail("SERVER must be HOST:PORT or [V6ADDR]:PORT, got '" + std::string(fields[2]) + "'");
    }
    auto key = lower(entry.name);
    if (auto it = table.find(key); it != table.end())
      fail("duplicate name '" + entry.name + "' (first on line " + std::to_string(it->second.line) + ")");
    table.emplace(std::move(key), std::move(entry));
  });
  return table;
}

const name_entry* find_name(const names_table& table, std::string_view target) {
  if (target.empty()) return nullptr;
  auto key = lower(target);
  if (auto it = table.find(key); it != table.end()) return &it->second;
  auto dot = key.rfind('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  key.resize(dot);
  if (auto it = table.find(key); it != table.end()) return &it->second;
  return nullptr;
}

std::optional<name_entry> resolve_target(const names_table& table, std::string_view target) {
  if (const name_entry* entry = find_name(table, target)) return *entry;
  if (!valid_uuid(target)) return std::nullopt;
  name_entry literal;
  literal.uuid = target;
  return literal;
}

names_table load_names_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw config_error("names file " + name + " is a directory");
  std::ifstream in(path);
  if (!in) throw config_error("cannot read names file " + name + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error("cannot read names file " + name);
  return parse_names(text.str(), name);
}

}  // namespace rv
