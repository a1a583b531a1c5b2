// rvhidden: the hidden server's side of the rendezvous.
#include "rvhidden/hidden.hpp"
#include "rvhidden/options.hpp"
#include "rv/cli.hpp"

int main(int argc, char** argv) {
  return rv::cli::run_main("rvhidden", [&] {
    auto opts = rvhidden::parse_options(argc, argv);
    return opts ? rvhidden::run(*opts) : 0;
  });
}
