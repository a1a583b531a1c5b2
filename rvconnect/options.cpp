// rvconnect's command line, environment, config files and names file.
#include "rvconnect/options.hpp"

#include <algorithm>
#include <filesystem>

#include "rv/cli.hpp"
#include "rv/error.hpp"
#include "rv/log.hpp"
#include "rv/names.hpp"
#include "rv/protocol.hpp"
#include "rv/secrets.hpp"

namespace rvconnect {

namespace po = boost::program_options;

namespace {
constexpr std::string_view synopsis =
    "  rvconnect [--server HOST:PORT] [options] UUID|NAME\n"
    "  rvconnect [--server HOST:PORT] --listen [HOST:]PORT [options] UUID|NAME\n"
    "\n"
    "Reaches the service behind the hidden server registered as UUID, through the\n"
    "rendezvous server. Without --listen it is netcat on stdin/stdout, fit for an\n"
    "OpenSSH ProxyCommand; with --listen it tunnels each local TCP connection.\n"
    "A NAME is looked up in the names file, which maps it to a UUID (and a server).\n";

constexpr std::string_view epilogue =
    "Examples:\n"
    "  # ~/.ssh/config\n"
    "  Host home\n"
    "      ProxyCommand rvconnect --server rv.example.com:8899 UUID\n"
    "\n"
    "  # or, for a whole fleet: 'ssh home.rv' reaches the NAME 'home' of the names file\n"
    "  Host *.rv\n"
    "      ProxyCommand rvconnect %h\n"
    "\n"
    "  rvconnect --server rv.example.com:8899 UUID < request > reply\n"
    "  rvconnect --server rv.example.com:8899 --listen 2222 UUID &   # then: ssh -p 2222 localhost\n"
    "\n"
    "Defaults: each option is taken from the first of these that sets it:\n"
    "  1. the command line\n"
    "  2. the environment: RV_SERVER, RV_CA_FILE, RV_PIN, RV_SERVER_NAME, RV_NAMES,\n"
    "     RV_CLIENT_KEYS\n"
    "  3. the --config file\n"
    "  4. $XDG_CONFIG_HOME/rendezvous/rvconnect.conf (XDG_CONFIG_HOME defaults to ~/.config),\n"
    "     read when it exists; same 'name = value' lines as --config\n"
    "\n"
    "Names file: --names, else $XDG_CONFIG_HOME/rendezvous/names when it exists. Lines\n"
    "'NAME UUID [SERVER:PORT]', '#' comments. The argument is looked up as a NAME (case\n"
    "aside), then without its last dot-suffix ('home.rv', then 'home'); when no name\n"
    "matches, it is used as the UUID itself. A name's SERVER replaces the configured\n"
    "--server (a --server on the command line still wins); the trust options apply to it.\n"
    "\n"
    "The server's certificate is checked against the system CA store unless --ca-file or\n"
    "--pin is given; there is no way to skip the check. --listen without a host binds\n"
    "127.0.0.1, and prints 'listening ADDRESS:PORT' on stdout. Logs go to stderr.\n"
    "\n"
    "Several nodes: --server may be given several times (config: several 'server =' lines).\n"
    "Each server is tried in turn, and each address its name resolves to (A and AAAA, in\n"
    "the resolver's order). Connecting and the TLS handshake get --try-timeout at one\n"
    "address and --connect-timeout over all of them; the server's answer then gets\n"
    "--answer-timeout, since a server may hold a client for its grace period while a\n"
    "hidden server parks, and then for the hidden server's answer. rvconnect moves on\n"
    "after a refused, reset, silent or closed connection, no answer, or a 503; it stops at\n"
    "a certificate or pin failure and at any other answer (404, 502 and 504 are about the\n"
    "hidden server, the same at every node). With --listen, an address that failed is\n"
    "tried last for 30 s. When every address fails, one error line names each and why.\n"
    "\n"
    "Exit status:\n"
    "  0  the tunnel ended cleanly\n"
    "  1  runtime failure (network, TLS, the tunnel was aborted; no server reachable)\n"
    "  2  bad usage or configuration (also: an argument that is neither a NAME nor a UUID)\n"
    "  3  no hidden server is registered for UUID (404)\n"
    "  4  the hidden side could not serve the tunnel: its local service is down, or\n"
    "     rvhidden is at its tunnel cap (502), or it did not answer in time (504)\n"
    "  5  the rendezvous server refused the request otherwise\n";

// 8-4-4-4-12 hex digits: what a 404 need not explain when no name matched.
bool canonical_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (dash ? c != '-' : !hex) return false;
  }
  return true;
}

// The file an option names (which must exist: loading it says so if not),
// else `name` in the user's config dir, read only when it exists.
struct user_file {
  std::string path;  // searched, or would have been; empty without HOME
  bool read = false;
};

user_file option_or_user_file(const po::variables_map& vm, const char* option, const char* name) {
  if (vm.count(option)) return {vm[option].as<std::string>(), true};
  const auto dir = rv::cli::user_config_dir();
  if (dir.empty()) return {};
  user_file f{(dir / name).string(), false};
  std::error_code ec;
  f.read = std::filesystem::exists(f.path, ec);
  return f;
}

// The names file: --names, else the user's when present.
struct names_source {
  user_file file;
  rv::names_table table;
};

names_source load_names(const po::variables_map& vm) {
  names_source n{option_or_user_file(vm, "names", "names"), {}};
  if (n.file.read) n.table = rv::load_names_file(n.file.path);
  return n;
}

// The key for `uuid` in --client-keys, else in the user's client-keys file
// when present; empty when none is listed.
std::string client_key_for(const po::variables_map& vm, const std::string& uuid) {
  const auto file = option_or_user_file(vm, "client-keys", "client-keys");
  if (!file.read) return {};
  const auto& path = file.path;
  const auto keys = rv::load_client_keys_file(path);
  auto it = keys.find(uuid);
  if (it == keys.end()) return {};
  rv::log::debug("presenting the client key for uuid=", uuid, " from ", path);
  return it->second;
}
}  // namespace

std::optional<options> parse_options(int argc, char** argv) {
  po::options_description desc("rvconnect options");
  rv::cli::add_server_access_options(desc);
  desc.add_options()
      ("uuid,u", po::value<std::string>()->value_name("UUID|NAME"),
       "the hidden server to reach: a UUID, or a NAME of the names file (or as the argument)")
      ("try-timeout", po::value<unsigned>()->value_name("SECONDS")->default_value(3),
       "deadline for connecting and the TLS handshake at one address, before the next is tried")
      ("answer-timeout", po::value<unsigned>()->value_name("SECONDS")->default_value(30),
       "deadline for the server's answer, which may wait for a hidden server to park")
      ("listen,l", po::value<std::string>()->value_name("[HOST:]PORT"),
       "accept local TCP connections here and tunnel each (host defaults to 127.0.0.1)")
      ("names", po::value<std::string>()->value_name("FILE"),
       "the names file: NAME UUID [SERVER:PORT] lines (default: names in the user config dir)")
      ("client-keys", po::value<std::string>()->value_name("FILE"),
       "UUID KEY lines, mode 0600: the key to present for a UUID whose server asks for one "
       "(default: client-keys in the user config dir, when present)");
  po::positional_options_description positional;
  positional.add("uuid", 1);
  const rv::cli::default_sources defaults{{{"RV_SERVER", "server"},
                                           {"RV_CA_FILE", "ca-file"},
                                           {"RV_PIN", "pin"},
                                           {"RV_SERVER_NAME", "server-name"},
                                           {"RV_NAMES", "names"},
                                           {"RV_CLIENT_KEYS", "client-keys"}},
                                          "rvconnect.conf"};
  rv::cli::parse_report report;
  po::variables_map vm;
  if (!rv::cli::parse(argc, argv, desc, positional, {"rvconnect", synopsis, epilogue, "warn"}, vm, defaults,
                      &report))
    return std::nullopt;

  if (!vm.count("uuid")) throw rv::config_error("name the UUID or NAME to reach (try 'rvconnect --help')");
  const auto target = vm["uuid"].as<std::string>();
  const auto names = load_names(vm);
  auto resolved = rv::resolve_target(names.table, target);
  if (!resolved) {
    if (names.file.read)
      throw rv::config_error("'" + target + "' is neither a name in " + names.file.path + " nor a valid UUID");
    if (names.file.path.empty())
      throw rv::config_error("'" + target + "' is not a valid UUID, and without HOME there is no names file "
                             "to look it up in (see --names)");
    throw rv::config_error("'" + target + "' is not a valid UUID, and there is no names file " + names.file.path +
                           " to look it up in (see --names)");
  }
  const bool named = resolved->line != 0;
  // The name's server is more specific than a configured default, but a
  // --server typed on the command line is the user's last word.
  const rv::endpoint_spec* name_server = nullptr;
  if (resolved->server && !report.from_command_line.count("server")) name_server = &*resolved->server;

  options o;
  static_cast<rv::cli::server_access&>(o) = rv::cli::read_server_access(
      vm, "rvconnect", name_server, report.from_command_line.count("server-name") > 0);
  o.uuid = resolved->uuid;
  if (named)
    rv::log::debug("'", target, "' is uuid=", o.uuid, " (", names.file.path, ":", resolved->line, ")",
                   name_server ? " at " + rv::to_string(*name_server) : std::string());
  else if (names.file.read && !canonical_uuid(target))
    o.names_note = "; '" + target + "' is not a name in " + names.file.path + " either";
  o.client_key = client_key_for(vm, o.uuid);
  o.try_timeout = std::chrono::seconds(std::max(1u, vm["try-timeout"].as<unsigned>()));
  o.answer_timeout = std::chrono::seconds(std::max(1u, vm["answer-timeout"].as<unsigned>()));
  if (vm.count("listen")) {
    auto text = vm["listen"].as<std::string>();
    auto l = rv::parse_endpoint(text, "127.0.0.1");
    if (!l) throw rv::config_error("--listen expects [HOST:]PORT, got '" + text + "'");
    o.listen = *l;
  }
  return o;
}

}  // namespace rvconnect
