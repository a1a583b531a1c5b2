// rvserver: the public rendezvous server, and its provisioning subcommands (secrets, cert).
#include "rvserver/options.hpp"
#include "rvserver/provision.hpp"
#include "rv/cli.hpp"
#include "rvserver/server.hpp"

int main(int argc, char** argv) {
  return rv::cli::run_main("rvserver", [&] {
    if (auto code = rvserver::run_subcommand(argc, argv)) return *code;
    auto opts = rvserver::parse_options(argc, argv);
    return opts ? rvserver::run(*opts) : 0;
  });
}
