// rvconnect: the client's side of the rendezvous.
#include "rvconnect/connect.hpp"
#include "rvconnect/options.hpp"
#include "rv/cli.hpp"

int main(int argc, char** argv) {
  return rv::cli::run_main("rvconnect", [&] {
    auto opts = rvconnect::parse_options(argc, argv);
    return opts ? rvconnect::run(*opts) : 0;
  });
}
