// rvserver's subcommands: `rvserver secrets ...` (secrets_command.hpp) and `rvserver cert`
// (cert_command.hpp), run instead of the server when argv[1] names one.
#pragma once
#include <optional>

namespace rvserver {

// Runs `rvserver secrets ...` or `rvserver cert ...` when argv[1] names one, and returns its
// exit code; nullopt when argv[1] is not a subcommand (the server's own options follow).
// Throws rv::config_error on bad usage (exit 2), other exceptions on I/O failures (exit 1).
std::optional<int> run_subcommand(int argc, char** argv);

}  // namespace rvserver
