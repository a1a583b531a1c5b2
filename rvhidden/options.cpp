// rvhidden's command line, environment and config files.
#include "rvhidden/options.hpp"

#include "rv/cli.hpp"
#include "rv/error.hpp"
#include "rv/protocol.hpp"

namespace rvhidden {

namespace po = boost::program_options;

namespace {
constexpr std::string_view synopsis =
    "  rvhidden --server HOST:PORT --uuid UUID --secrets FILE --forward HOST:PORT [options]\n"
    "  rvhidden --server HOST:PORT --secrets FILE --service 'UUID HOST:PORT'... [options]\n"
    "\n"
    "Runs on the machine behind NAT. Registers UUID at the rendezvous server with a TOTP\n"
    "token, keeps --pool connections parked there, and relays each arriving client to\n"
    "the local service at --forward. Quiet unless something is wrong (--log-level info\n"
    "to see each registration). Retries with jittered exponential backoff.\n"
    "\n"
    "Several UUIDs, each to its own local service: one --service per UUID instead of\n"
    "--uuid and --forward (which are the same as a single --service). Each UUID has its\n"
    "own pool of --pool connections and its own line in the secrets file.\n"
    "\n"
    "Several nodes (rvservers that serve as one): give --server once per node, or one\n"
    "name whose addresses are the nodes with --server-addresses all. rvhidden keeps\n"
    "--pool connections parked at each node, with its own backoff there, so that any\n"
    "node can pair a client and a node that is down delays no other.\n";

constexpr std::string_view epilogue =
    "Examples:\n"
    "  rvhidden --server rv.example.com:8899 --uuid UUID --secrets ~/.config/rendezvous/secrets \\\n"
    "           --forward 127.0.0.1:22\n"
    "  rvhidden --server 203.0.113.7:8899 --server-name rv.example.com --pin 'sha256//BASE64' ...\n"
    "\n"
    "  # ~/.config/rendezvous/rvhidden.conf: sshd and a web app, then just 'rvhidden'\n"
    "  server = rv.example.com:8899\n"
    "  secrets = /home/me/.config/rendezvous/secrets\n"
    "  service = 0b6c1d2e-5f1a-4c3b-9d8e-7f6a5b4c3d2e 127.0.0.1:22\n"
    "  service = 9a8b7c6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d 127.0.0.1:8080\n"
    "\n"
    "  # three nodes of one service; or one name with an address per node:\n"
    "  rvhidden --server rv1.example.com:8899 --server rv2.example.com:8899 --server rv3.example.com:8899 ...\n"
    "  rvhidden --server rv.example.com:8899 --server-addresses all ...\n"
    "\n"
    "Defaults: each option is taken from the first of these that sets it (a repeated\n"
    "option such as --service takes all its values from that one):\n"
    "  1. the command line\n"
    "  2. the environment: RV_SERVER, RV_CA_FILE, RV_PIN, RV_SERVER_NAME, RV_SECRETS\n"
    "  3. the --config file\n"
    "  4. $XDG_CONFIG_HOME/rendezvous/rvhidden.conf (XDG_CONFIG_HOME defaults to ~/.config),\n"
    "     read when it exists; same 'name = value' lines as --config\n"
    "\n"
    "The secrets file (mode 0600) holds the line for each UUID: 'UUID BASE32SECRET [STEP [DIGITS]]'.\n"
    "The server's certificate is checked against the system CA store unless --ca-file or\n"
    "--pin is given; there is no way to skip the check.\n"
    "\n"
    "Each tunnel costs two descriptors, each parked connection one: rvhidden raises its\n"
    "soft descriptor limit to the hard one at start. A client that arrives while\n"
    "--max-tunnels (or --max-tunnels-per-service) tunnels are open is refused: rvconnect\n"
    "exits 4 with a message that names the option, an HTTP client gets 503, a seed\n"
    "server's client a close. The parked connections stay, and so do the other tunnels.\n"
    "\n"
    "Exit status:\n"
    "  0  stopped by SIGINT or SIGTERM\n"
    "  1  runtime failure\n"
    "  2  bad usage or configuration (options, secrets file, CA file)\n";

// "UUID HOST:PORT" (spaces or tabs between) of --service.
rvhidden::service parse_service(const std::string& text) {
  const auto bad = [&] {
    return rv::config_error("--service expects 'UUID HOST:PORT', got '" + text + "'");
  };
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) throw bad();
  const auto gap = text.find_first_of(" \t", first);
  if (gap == std::string::npos) throw bad();
  const auto second = text.find_first_not_of(" \t", gap);
  if (second == std::string::npos) throw bad();
  auto end = text.find_last_not_of(" \t") + 1;
  const auto uuid = text.substr(first, gap - first);
  const auto address = text.substr(second, end - second);
  if (address.find_first_of(" \t") != std::string::npos) throw bad();
  if (!rv::valid_uuid(uuid)) throw rv::config_error("--service: '" + uuid + "' is not a valid UUID");
  auto ep = rv::parse_endpoint(address);
  if (!ep) throw rv::config_error("--service: the local service must be HOST:PORT, got '" + address + "'");
  return {uuid, *ep};
}
}  // namespace

std::optional<options> parse_options(int argc, char** argv) {
  po::options_description desc("rvhidden options");
  rv::cli::add_server_access_options(desc);
  desc.add_options()
      ("uuid,u", po::value<std::string>()->value_name("UUID"), "the UUID to register (with --forward)")
      ("secrets", po::value<std::string>()->value_name("FILE"),
       "secrets file with the line for each UUID, mode 0600 (required)")
      ("forward,f", po::value<std::string>()->value_name("HOST:PORT"),
       "local service each client is relayed to, e.g. 127.0.0.1:22 (with --uuid)")
      ("service", po::value<std::vector<std::string>>()->value_name("'UUID HOST:PORT'"),
       "serve UUID with the local service HOST:PORT; repeatable (instead of --uuid and --forward)")
      ("pool,p", po::value<unsigned>()->value_name("N")->default_value(4),
       "connections kept parked at the server per UUID, waiting for clients")
      ("keepalive", po::value<unsigned>()->value_name("SECONDS")->default_value(20),
       "TCP keepalive idle time: keeps NAT mappings of parked connections alive")
      ("max-backoff", po::value<unsigned>()->value_name("SECONDS")->default_value(60),
       "longest wait between reconnection attempts")
      ("max-tunnels", po::value<unsigned>()->value_name("N"),
       "tunnels open at once, all UUIDs together; past it a client is refused (default: 1024, or "
       "fewer when the descriptor limit allows fewer)")
      ("max-tunnels-per-service", po::value<unsigned>()->value_name("N"),
       "tunnels open at once for any one UUID (default: no cap beyond --max-tunnels)")
      ("server-addresses", po::value<std::string>()->value_name("first|all")->default_value("first"),
       "first: each --server is one node, dialled by its name; all: each address (A and AAAA) a --server "
       "name resolves to is a node, its certificate checked against the name")
      ("resolve-interval", po::value<unsigned>()->value_name("SECONDS")->default_value(60),
       "how often --server-addresses all resolves the names again: a new address gets a pool, one that "
       "left is drained (its idle slots stop at once, its parked connections when a client takes them or "
       "they close; tunnels run on); also how often an address found to reach a node parked at through "
       "another address is checked again");
  const rv::cli::default_sources defaults{{{"RV_SERVER", "server"},
                                           {"RV_CA_FILE", "ca-file"},
                                           {"RV_PIN", "pin"},
                                           {"RV_SERVER_NAME", "server-name"},
                                           {"RV_SECRETS", "secrets"}},
                                          "rvhidden.conf"};
  po::variables_map vm;
  // Quiet by default: it runs from cron and scripts.
  if (!rv::cli::parse(argc, argv, desc, {}, {"rvhidden", synopsis, epilogue, "warn"}, vm, defaults))
    return std::nullopt;

  auto required = [&](const char* name) {
    if (!vm.count(name))
      throw rv::config_error(std::string("--") + name + " is required (try 'rvhidden --help')");
    return vm[name].as<std::string>();
  };
  options o;
  static_cast<rv::cli::server_access&>(o) = rv::cli::read_server_access(vm, "rvhidden");
  if (vm.count("service")) {
    if (vm.count("uuid") || vm.count("forward"))
      throw rv::config_error("--service and --uuid/--forward are alternatives: give one or the other "
                             "(a config file may hold either)");
    for (const auto& text : vm["service"].as<std::vector<std::string>>()) o.services.push_back(parse_service(text));
  } else {
    if (!vm.count("uuid") && !vm.count("forward"))
      throw rv::config_error("name what to serve: --uuid and --forward, or --service (try 'rvhidden --help')");
    service s;
    s.uuid = required("uuid");
    if (!rv::valid_uuid(s.uuid)) throw rv::config_error("--uuid '" + s.uuid + "' is not a valid UUID");
    auto forward = required("forward");
    auto ep = rv::parse_endpoint(forward);
    if (!ep) throw rv::config_error("--forward expects HOST:PORT, got '" + forward + "'");
    s.forward = *ep;
    o.services.push_back(std::move(s));
  }
  for (std::size_t i = 0; i < o.services.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (o.services[i].uuid == o.services[j].uuid)
        throw rv::config_error("--service: uuid " + o.services[i].uuid + " is given twice");
  o.secrets_file = required("secrets");
  o.pool = vm["pool"].as<unsigned>();
  if (o.pool < 1 || o.pool > 256) throw rv::config_error("--pool must be between 1 and 256");
  o.keepalive = std::chrono::seconds(std::max(1u, vm["keepalive"].as<unsigned>()));
  o.backoff_max = std::chrono::seconds(std::max(1u, vm["max-backoff"].as<unsigned>()));
  if (vm.count("max-tunnels")) {
    o.max_tunnels = vm["max-tunnels"].as<unsigned>();
    if (*o.max_tunnels < 1) throw rv::config_error("--max-tunnels must be at least 1");
  }
  const auto& addresses = vm["server-addresses"].as<std::string>();
  if (addresses == "first") {
    o.addresses = server_addresses::first;
  } else if (addresses == "all") {
    o.addresses = server_addresses::all;
  } else {
    throw rv::config_error("--server-addresses must be 'first' or 'all', got '" + addresses + "'");
  }
  const unsigned interval = vm["resolve-interval"].as<unsigned>();
  if (interval < 1 || interval > 86400) throw rv::config_error("--resolve-interval must be between 1 and 86400 seconds");
  o.resolve_interval = std::chrono::seconds(interval);
  if (vm.count("max-tunnels-per-service")) {
    o.max_tunnels_per_service = vm["max-tunnels-per-service"].as<unsigned>();
    if (o.max_tunnels_per_service < 1) throw rv::config_error("--max-tunnels-per-service must be at least 1");
  }
  return o;
}

}  // namespace rvhidden
