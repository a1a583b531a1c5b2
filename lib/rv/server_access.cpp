// Reading how to reach and trust the rendezvous server from the command line (see server_access.hpp).
#include "rv/server_access.hpp"

#include <algorithm>

#include <boost/program_options.hpp>

#include "rv/error.hpp"

namespace rv::cli {

namespace po = boost::program_options;

void add_server_access_options(po::options_description& desc) {
  desc.add_options()
      ("server,s", po::value<std::vector<std::string>>()->value_name("HOST:PORT"),
       "the rendezvous server (required here, or by a default: see below); may be given several times for several nodes of one service")
      ("ca-file", po::value<std::string>()->value_name("FILE"),
       "trust this CA (or self-signed certificate) instead of the system store")
      ("pin", po::value<std::string>()->value_name("sha256//BASE64"),
       "require the server key to match this SPKI pin (several joined by ';')")
      ("server-name", po::value<std::string>()->value_name("NAME"),
       "name the certificate must carry, and SNI (default: the --server host)")
      ("connect-timeout", po::value<unsigned>()->value_name("SECONDS")->default_value(10),
       "deadline for connecting and for the TLS handshake");
}

server_access read_server_access(const po::variables_map& vm, std::string_view program,
                                 const endpoint_spec* server, bool keep_server_name) {
  server_access a;
  if (server) {
    a.servers.push_back(*server);
  } else {
    if (!vm.count("server"))
      throw config_error("--server is required: on the command line, as RV_SERVER or in a config file (try '" +
                         std::string(program) + " --help')");
    for (const auto& text : vm["server"].as<std::vector<std::string>>()) {
      auto ep = parse_endpoint(text);
      if (!ep) throw config_error("--server expects HOST:PORT or [V6ADDR]:PORT, got '" + text + "'");
      a.servers.push_back(*ep);
    }
  }
  a.server = a.servers.front();
  a.server_name = a.server.host;
  if (vm.count("server-name") && (!server || keep_server_name)) {
    a.server_name = vm["server-name"].as<std::string>();
    a.server_name_given = true;
  }
  // An empty name would leave the certificate's name unchecked.
  if (a.server_name.empty())
    throw config_error("--server-name must not be empty: it is the name the server's certificate must carry");
  if (vm.count("ca-file")) a.trust.ca_file = vm["ca-file"].as<std::string>();
  if (vm.count("pin")) a.trust.pins = parse_pins(vm["pin"].as<std::string>());
  a.connect_timeout = std::chrono::seconds(std::max(1u, vm["connect-timeout"].as<unsigned>()));
  return a;
}

server_access server_access::at(const endpoint_spec& address, std::string_view name) const {
  server_access a = *this;
  a.server = address;
  if (!server_name_given) a.server_name = name.empty() ? address.host : std::string(name);
  return a;
}

}  // namespace rv::cli
