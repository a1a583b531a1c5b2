// What every program's command line shares: --help, --version, --config,
// --log-level, defaults from the environment and the user's config file, and
// run_main, the one place failures become exit codes.
#pragma once
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/program_options.hpp>

namespace rv::cli {

namespace po = boost::program_options;

struct program_text {
  std::string_view name;      // "rvserver"
  std::string_view synopsis;  // usage lines, printed first by --help
  std::string_view epilogue;  // examples, files, exit codes: printed last by --help
  std::string_view default_log_level = "info";  // rvhidden is quiet by default: "warn"
};

// Where a program takes defaults from besides its command line; each program
// opts in to what makes sense for it (rvserver takes none of them).
struct default_sources {
  // Environment variables read as options, e.g. {"RV_SERVER", "server"}
  // (parse_environment); a variable set to the empty string counts as unset.
  std::vector<std::pair<std::string, std::string>> environment;
  // A file in user_config_dir() with --config's syntax, read when it exists
  // (e.g. "rvconnect.conf").
  std::string user_config;
};

// $XDG_CONFIG_HOME/rendezvous, or $HOME/.config/rendezvous when XDG_CONFIG_HOME
// is unset or not absolute (XDG Base Directory spec); empty without HOME.
std::filesystem::path user_config_dir();

// Where parse() found things, for rules that depend on it (rvconnect: a
// server from the names file yields to --server on the command line only).
struct parse_report {
  std::set<std::string> from_command_line;  // option names given in argv
  std::vector<std::string> config_files;    // files read, highest precedence first
};

// Parses argv, then the environment variables, the --config file and the
// user config file of `defaults` (same option names, `name = value` lines).
// Precedence, highest first: command line, environment, --config, user
// config, built-in defaults (the first source that sets an option wins; a
// repeatable option takes all its values from that one source). Adds the
// common options to `options`. Prints --help / --version to stdout and
// returns false when the program should exit 0 without running; throws
// rv::config_error on bad usage, naming the file or variable at fault.
// Applies --log-level.
bool parse(int argc, char** argv, po::options_description options,
           const po::positional_options_description& positional, const program_text& text,
           po::variables_map& vm, const default_sources& defaults = {}, parse_report* report = nullptr);

// Runs `body` and maps what escapes it to a log line and an exit code:
// config_error -> 2, exit_error -> its code, anything else -> 1.
int run_main(std::string_view program, const std::function<int()>& body);

}  // namespace rv::cli
