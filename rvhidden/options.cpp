// rvhidden's command line and config file.
#include "options.hpp"

#include "rv/cli.hpp"
#include "rv/error.hpp"
#include "rv/protocol.hpp"

namespace rvhidden {

namespace po = boost::program_options;

namespace {
constexpr std::string_view synopsis =
    "  rvhidden --server HOST:PORT --uuid UUID --secrets FILE --forward HOST:PORT [options]\n"
    "\n"
    "Runs on the machine behind NAT. Registers UUID at the rendezvous server with a TOTP\n"
    "token, keeps --pool connections parked there, and relays each arriving client to\n"
    "the local service at --forward. Quiet unless something is wrong (--log-level info\n"
    "to see each registration). Retries with jittered exponential backoff.\n";

constexpr std::string_view epilogue =
    "Examples:\n"
    "  rvhidden --server rv.example.com:8899 --uuid UUID --secrets ~/.config/rendezvous/secrets \\\n"
    "           --forward 127.0.0.1:22\n"
    "  rvhidden --server 203.0.113.7:8899 --server-name rv.example.com --pin 'sha256//BASE64' ...\n"
    "\n"
    "The secrets file (mode 0600) holds the line for UUID: 'UUID BASE32SECRET [STEP [DIGITS]]'.\n"
    "The server's certificate is checked against the system CA store unless --ca-file or\n"
    "--pin is given; there is no way to skip the check.\n"
    "\n"
    "Exit status:\n"
    "  0  stopped by SIGINT or SIGTERM\n"
    "  1  runtime failure\n"
    "  2  bad usage or configuration (options, secrets file, CA file)\n";
}  // namespace

std::optional<options> parse_options(int argc, char** argv) {
  po::options_description desc("rvhidden options");
  rv::cli::add_server_access_options(desc);
  desc.add_options()
      ("uuid,u", po::value<std::string>()->value_name("UUID"), "the UUID to register (required)")
      ("secrets", po::value<std::string>()->value_name("FILE"),
       "secrets file with the line for UUID, mode 0600 (required)")
      ("forward,f", po::value<std::string>()->value_name("HOST:PORT"),
       "local service each client is relayed to, e.g. 127.0.0.1:22 (required)")
      ("pool,p", po::value<unsigned>()->value_name("N")->default_value(4),
       "connections kept parked at the server, waiting for clients")
      ("keepalive", po::value<unsigned>()->value_name("SECONDS")->default_value(20),
       "TCP keepalive idle time: keeps NAT mappings of parked connections alive")
      ("max-backoff", po::value<unsigned>()->value_name("SECONDS")->default_value(60),
       "longest wait between reconnection attempts");
  po::variables_map vm;
  // Quiet by default: it runs from cron and scripts.
  if (!rv::cli::parse(argc, argv, desc, {}, {"rvhidden", synopsis, epilogue, "warn"}, vm)) return std::nullopt;

  auto required = [&](const char* name) {
    if (!vm.count(name))
      throw rv::config_error(std::string("--") + name + " is required (try 'rvhidden --help')");
    return vm[name].as<std::string>();
  };
  options o;
  static_cast<rv::cli::server_access&>(o) = rv::cli::read_server_access(vm, "rvhidden");
  o.uuid = required("uuid");
  if (!rv::valid_uuid(o.uuid)) throw rv::config_error("--uuid '" + o.uuid + "' is not a valid UUID");
  o.secrets_file = required("secrets");
  auto forward = required("forward");
  auto ep = rv::parse_endpoint(forward);
  if (!ep) throw rv::config_error("--forward expects HOST:PORT, got '" + forward + "'");
  o.forward = *ep;
  o.pool = vm["pool"].as<unsigned>();
  if (o.pool < 1 || o.pool > 256) throw rv::config_error("--pool must be between 1 and 256");
  o.keepalive = std::chrono::seconds(std::max(1u, vm["keepalive"].as<unsigned>()));
  o.backoff_max = std::chrono::seconds(std::max(1u, vm["max-backoff"].as<unsigned>()));
  return o;
}

}  // namespace rvhidden
