// What every program's command line shares: --help, --version, --config,
// --log-level, and run_main, the one place failures become exit codes.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

#include "rv/endpoint.hpp"
#include "rv/tls.hpp"

namespace rv::cli {

namespace po = boost::program_options;

struct program_text {
  std::string_view name;      // "rvserver"
  std::string_view synopsis;  // usage lines, printed first by --help
  std::string_view epilogue;  // examples, files, exit codes: printed last by --help
  std::string_view default_log_level = "info";  // rvhidden is quiet by default: "warn"
};

// Parses argv, then the --config file (same option names, `name = value`
// lines); the command line wins. Adds the common options to `options`.
// Prints --help / --version to stdout and returns false when the program
// should exit 0 without running; throws rv::config_error on bad usage.
// Applies --log-level.
bool parse(int argc, char** argv, po::options_description options,
           const po::positional_options_description& positional, const program_text& text,
           po::variables_map& vm);

// How rvhidden and rvconnect reach and trust the rendezvous server: --server,
// --ca-file, --pin, --server-name, --connect-timeout.
struct server_access {
  endpoint_spec server;
  std::string server_name;  // SNI and the name the certificate must carry
  client_trust trust;
  std::chrono::seconds connect_timeout{10};
};
void add_server_access_options(po::options_description& desc);
// Throws rv::config_error naming `program` for a missing or malformed option.
server_access read_server_access(const po::variables_map& vm, std::string_view program);

// Runs `body` and maps what escapes it to a log line and an exit code:
// config_error -> 2, exit_error -> its code, anything else -> 1.
int run_main(std::string_view program, const std::function<int()>& body);

}  // namespace rv::cli
