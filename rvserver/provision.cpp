// rvserver's subcommands: which one argv[1] names.
#include "rvserver/provision.hpp"

#include <string_view>

#include "rvserver/cert_command.hpp"
#include "rvserver/secrets_command.hpp"

namespace rvserver {

std::optional<int> run_subcommand(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  std::string_view word = argv[1];
  if (word == "secrets") return run_secrets_command(argc - 1, argv + 1);
  if (word == "cert") return run_cert_command(argc - 1, argv + 1);
  return std::nullopt;
}

}  // namespace rvserver
