// rvconnect's names file: short names for UUIDs (and, per name, a server), so
// that ssh_config's `Host *.rv` + `ProxyCommand rvconnect %h` serves a fleet.
//   NAME UUID [SERVER:PORT]
// one per line, '#' starts a comment, blank lines allowed, fields separated by
// spaces or tabs. Names match without regard to case, as host names do (ssh
// lower-cases %h).
#pragma once
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "rv/endpoint.hpp"

namespace rv {

struct name_entry {
  std::string name;                     // as written in the file
  std::string uuid;
  std::optional<endpoint_spec> server;  // this name's rendezvous server, when the line gives one
  std::size_t line = 0;
};

// Keyed by the lower-cased name.
using names_table = std::map<std::string, name_entry, std::less<>>;

// Parses the file's text. Throws rv::config_error naming `origin` and the line
// number on: fewer than 2 or more than 3 fields, an invalid UUID, a SERVER
// that is not HOST:PORT, or a duplicate name (case aside).
names_table parse_names(std::string_view text, std::string_view origin = "names");

// The entry for `target`: the name itself, else `target` without its last
// dot-suffix ("home.rv" -> "home", so that `Host *.rv` works with names
// written without it). nullptr when neither is in the table.
const name_entry* find_name(const names_table& table, std::string_view target);

// What rvconnect reaches for its argument: the entry of a known name, else
// the argument itself when it is a valid UUID (no server). nullopt when it is
// neither: the caller reports it, naming the file searched.
std::optional<name_entry> resolve_target(const names_table& table, std::string_view target);

// Reads and parses a file. Throws rv::config_error when it cannot be read.
names_table load_names_file(const std::filesystem::path& path);

}  // namespace rv
