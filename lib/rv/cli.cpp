// Command-line plumbing shared by the three programs.
#include "rv/cli.hpp"

#include <fstream>
#include <iostream>

#include "rv/error.hpp"
#include "rv/log.hpp"

namespace rv::cli {

const std::string_view exit_codes_text =
    "Exit status:\n"
    "  0  success\n"
    "  1  runtime failure (network, TLS, I/O); see the log line on stderr\n"
    "  2  bad usage or configuration (options, secrets file, certificates)\n"
    "  3  rvconnect: no hidden server is registered for the UUID (404)\n"
    "  4  rvconnect: the hidden side could not reach its local service (502/504)\n"
    "  5  rvconnect: the rendezvous server refused the request otherwise\n";

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
