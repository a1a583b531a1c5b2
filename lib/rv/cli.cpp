// Command-line plumbing shared by the three programs.
#include "rv/cli.hpp"

#include <fstream>
#include <iostream>

#include "rv/error.hpp"
#include "rv/log.hpp"

namespace rv::cli {

bool parse(int argc, char** argv, po::options_description options,
           const po::positional_options_description& positional, const program_text& text,
           po::variables_map& vm) {
  po::options_description common("Common options");
  common.add_options()
      ("help,h", "print this help and exit")
      ("version,V", "print the version and exit")
      ("config,c", po::value<std::string>()->value_name("FILE"),
       "read options from FILE ('name = value' lines, same names as the long options)")
      ("log-level", po::value<std::string>()->value_name("LEVEL")->default_value(std::string(text.default_log_level)),
       "error, warn, info or debug");
  options.add(common);
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "Usage:\n" << text.synopsis << "\n" << options << "\n" << text.epilogue;
      return false;
    }
    if (vm.count("version")) {
      std::cout << text.name << " (rendezvous) " << RV_VERSION << "\n";
      return false;
    }
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) throw config_error("cannot read config file " + path);
      po::store(po::parse_config_file(in, options), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw config_error(std::string(e.what()) + " (try '" + std::string(text.name) + " --help')");
  }
  log::set_level(log::parse_level(vm["log-level"].as<std::string>()));
  return true;
}

void add_server_access_options(po::options_description& desc) {
  desc.add_options()
      ("server,s", po::value<std::string>()->value_name("HOST:PORT"), "the rendezvous server (required)")
      ("ca-file", po::value<std::string>()->value_name("FILE"),
       "trust this CA (or self-signed certificate) instead of the system store")
      ("pin", po::value<std::string>()->value_name("sha256//BASE64"),
       "require the server key to match this SPKI pin (several joined by ';')")
      ("server-name", po::value<std::string>()->value_name("NAME"),
       "name the certificate must carry, and SNI (default: the --server host)")
      ("connect-timeout", po::value<unsigned>()->value_name("SECONDS")->default_value(10),
       "deadline for connecting and for the TLS handshake");
}

server_access read_server_access(const po::variables_map& vm, std::string_view program) {
  server_access a;
  if (!vm.count("server"))
    throw config_error("--server is required (try '" + std::string(program) + " --help')");
  const auto& text = vm["server"].as<std::string>();
  auto ep = parse_endpoint(text);
  if (!ep) throw config_error("--server expects HOST:PORT or [V6ADDR]:PORT, got '" + text + "'");
  a.server = *ep;
  a.server_name = a.server.host;
  if (vm.count("server-name")) a.server_name = vm["server-name"].as<std::string>();
  if (vm.count("ca-file")) a.trust.ca_file = vm["ca-file"].as<std::string>();
  if (vm.count("pin")) a.trust.pins = parse_pins(vm["pin"].as<std::string>());
  a.connect_timeout = std::chrono::seconds(std::max(1u, vm["connect-timeout"].as<unsigned>()));
  return a;
}

int run_main(std::string_view program, const std::function<int()>& body) {
  log::set_program(program);
  try {
    return body();
  } catch (const config_error& e) {
    log::error(e.what());
    return exit_code::usage;
  } catch (const exit_error& e) {
    log::error(e.what());
    return e.code;
  } catch (const std::exception& e) {
    log::error(e.what());
    return exit_code::failure;
  }
}

}  // namespace rv::cli
