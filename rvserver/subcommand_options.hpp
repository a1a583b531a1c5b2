// What rvserver's subcommands (secrets ACTION, cert) share in reading their command lines:
// --help printed from a usage text, and Boost.Program_options' errors as usage errors.
#pragma once
#include <string_view>

#include <boost/program_options.hpp>

namespace rvserver {

struct usage_text {
  std::string_view command;   // "secrets add"
  std::string_view synopsis;  // usage lines and what it does
  std::string_view epilogue;  // output, examples
};

// Parses argv (argv[0] is the last subcommand word) into `vm`, adding --help to `visible`;
// `hidden` and `positional` take the positional arguments. On --help prints the usage on
// stdout and returns false. Throws rv::config_error (exit 2) on bad usage, with a hint at
// 'rvserver COMMAND --help'.
bool parse_command_line(int argc, char** argv, boost::program_options::options_description visible,
                        const boost::program_options::options_description& hidden,
                        const boost::program_options::positional_options_description& positional,
                        const usage_text& text, boost::program_options::variables_map& vm);

}  // namespace rvserver
