// Command-line plumbing shared by the three programs.
#include "rv/cli.hpp"

#include <sys/resource.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "rv/error.hpp"
#include "rv/log.hpp"

namespace rv::cli {

std::filesystem::path user_config_dir() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg && *xdg == '/') return std::filesystem::path(xdg) / "rendezvous";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::filesystem::path(home) / ".config" / "rendezvous";
  return {};
}

namespace {

// Stores one source's options; an error names the source (a file or a variable).
void store_from(const std::string& source, const po::parsed_options& parsed, po::variables_map& vm) {
  try {
    po::store(parsed, vm);
  } catch (const po::error& e) {
    throw config_error(std::string(e.what()) + " (in " + source + ")");
  }
}

void store_config_file(const std::string& path, const po::options_description& options, po::variables_map& vm,
                       parse_report* report) {
  std::ifstream in(path);
  if (!in) throw config_error("cannot read config file " + path);
  try {
    store_from("config file " + path, po::parse_config_file(in, options), vm);
  } catch (const po::error& e) {  // a syntax error, thrown while parsing
    throw config_error(std::string(e.what()) + " (in config file " + path + ")");
  }
  if (report) report->config_files.push_back(path);
}

void store_environment(const std::vector<std::pair<std::string, std::string>>& variables,
                       const po::options_description& options, po::variables_map& vm) {
  auto parsed = po::parse_environment(options, [&](const std::string& variable) -> std::string {
    for (const auto& [name, option] : variables)
      if (variable == name) return option;
    return {};
  });
  // VAR= on a command line (or an empty export) means "no value", not "".
  std::erase_if(parsed.options, [](const po::option& o) { return o.value.empty() || o.value.front().empty(); });
  for (const auto& o : parsed.options) {
    po::parsed_options one(&options);
    one.options.push_back(o);
    std::string variable;
    for (const auto& [name, option] : variables)
      if (option == o.string_key) variable = name;
    store_from("environment variable " + variable, one, vm);
  }
}

}  // namespace

bool parse(int argc, char** argv, po::options_description options,
           const po::positional_options_description& positional, const program_text& text,
           po::variables_map& vm, const default_sources& defaults, parse_report* report) {
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
  } catch (const po::error& e) {
    throw config_error(std::string(e.what()) + " (try '" + std::string(text.name) + " --help')");
  }
  if (vm.count("help")) {
    std::cout << "Usage:\n" << text.synopsis << "\n" << options << "\n" << text.epilogue;
    return false;
  }
  if (vm.count("version")) {
    std::cout << text.name << " (rendezvous) " << RV_VERSION << "\n";
    return false;
  }
  if (report)
    for (const auto& [name, value] : vm)
      if (!value.defaulted()) report->from_command_line.insert(name);
  // po::store keeps the first value it sees for an option: store in the
  // order of precedence, highest first.
  store_environment(defaults.environment, options, vm);
  if (vm.count("config")) store_config_file(vm["config"].as<std::string>(), options, vm, report);
  if (!defaults.user_config.empty()) {
    const auto dir = user_config_dir();
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(dir / defaults.user_config, ec))
      store_config_file((dir / defaults.user_config).string(), options, vm, report);
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw config_error(std::string(e.what()) + " (try '" + std::string(text.name) + " --help')");
  }
  log::set_level(log::parse_level(vm["log-level"].as<std::string>()));
  return true;
}

int run_main(std::string_view program, const std::function<int()>& body) {
  log::set_program(program);
  // Secrets (TOTP keys, pool credentials) live in this process's memory: a
  // crash must not write them to a core file. (/proc stays readable, unlike
  // with PR_SET_DUMPABLE 0, so operators and tests can still count our
  // descriptors.)
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
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
