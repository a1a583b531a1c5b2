// The command-line reading that rvserver's subcommands share.
#include "rvserver/subcommand_options.hpp"

#include <iostream>
#include <string>

#include "rv/error.hpp"

namespace rvserver {

namespace po = boost::program_options;

bool parse_command_line(int argc, char** argv, po::options_description visible, const po::options_description& hidden,
                        const po::positional_options_description& positional, const usage_text& text,
                        po::variables_map& vm) {
  visible.add_options()("help,h", "print this help and exit");
  po::options_description all;
  all.add(visible).add(hidden);
  const std::string try_help = " (try 'rvserver " + std::string(text.command) + " --help')";
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "Usage:\n" << text.synopsis << "\n" << visible << "\n" << text.epilogue;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw rv::config_error(std::string(e.what()) + try_help);
  }
  return true;
}

}  // namespace rvserver
