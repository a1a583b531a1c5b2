// rvserver: the public rendezvous server.
#include "options.hpp"
#include "rv/cli.hpp"
#include "server.hpp"

int main(int argc, char** argv) {
  return rv::cli::run_main("rvserver", [&] {
    auto opts = rvserver::parse_options(argc, argv);
    return opts ? rvserver::run(*opts) : 0;
  });
}
