// rvconnect's command line and config file.
#include "options.hpp"

#include "rv/cli.hpp"
#include "rv/error.hpp"
#include "rv/protocol.hpp"

namespace rvconnect {

namespace po = boost::program_options;

namespace {
constexpr std::string_view synopsis =
    "  rvconnect --server HOST:PORT [options] UUID\n"
    "  rvconnect --server HOST:PORT --listen [HOST:]PORT [options] UUID\n"
    "\n"
    "Reaches the service behind the hidden server registered as UUID, through the\n"
    "rendezvous server. Without --listen it is netcat on stdin/stdout, fit for an\n"
    "OpenSSH ProxyCommand; with --listen it tunnels each local TCP connection.\n";

constexpr std::string_view epilogue =
    "Examples:\n"
    "  # ~/.ssh/config\n"
    "  Host home\n"
    "      ProxyCommand rvconnect --server rv.example.com:8899 UUID\n"
    "\n"
    "  rvconnect --server rv.example.com:8899 UUID < request > reply\n"
    "  rvconnect --server rv.example.com:8899 --listen 2222 UUID &   # then: ssh -p 2222 localhost\n"
    "\n"
    "The server's certificate is checked against the system CA store unless --ca-file or\n"
    "--pin is given; there is no way to skip the check. --listen without a host binds\n"
    "127.0.0.1, and prints 'listening ADDRESS:PORT' on stdout. Logs go to stderr.\n"
    "\n"
    "Exit status:\n"
    "  0  the tunnel ended cleanly\n"
    "  1  runtime failure (network, TLS, the tunnel was aborted)\n"
    "  2  bad usage or configuration\n"
    "  3  no hidden server is registered for UUID (404)\n"
    "  4  the hidden side could not reach its local service (502, 504)\n"
    "  5  the rendezvous server refused the request otherwise\n";
}  // namespace

std::optional<options> parse_options(int argc, char** argv) {
  po::options_description desc("rvconnect options");
  rv::cli::add_server_access_options(desc);
  desc.add_options()
      ("uuid,u", po::value<std::string>()->value_name("UUID"), "the hidden server to reach (or as the argument)")
      ("listen,l", po::value<std::string>()->value_name("[HOST:]PORT"),
       "accept local TCP connections here and tunnel each (host defaults to 127.0.0.1)");
  po::positional_options_description positional;
  positional.add("uuid", 1);
  po::variables_map vm;
  if (!rv::cli::parse(argc, argv, desc, positional, {"rvconnect", synopsis, epilogue, "warn"}, vm))
    return std::nullopt;

  options o;
  static_cast<rv::cli::server_access&>(o) = rv::cli::read_server_access(vm, "rvconnect");
  if (!vm.count("uuid")) throw rv::config_error("name the UUID to reach (try 'rvconnect --help')");
  o.uuid = vm["uuid"].as<std::string>();
  if (!rv::valid_uuid(o.uuid)) throw rv::config_error("'" + o.uuid + "' is not a valid UUID");
  if (vm.count("listen")) {
    auto text = vm["listen"].as<std::string>();
    auto l = rv::parse_endpoint(text, "127.0.0.1");
    if (!l) throw rv::config_error("--listen expects [HOST:]PORT, got '" + text + "'");
    o.listen = *l;
  }
  return o;
}

}  // namespace rvconnect
