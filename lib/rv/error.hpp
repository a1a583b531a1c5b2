// Errors that reach a program's edge, and the exit codes they become.
#pragma once
#include <stdexcept>
#include <string>

namespace rv {

// Exit codes shared by all three programs (documented in each --help).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;         // runtime failure: network, TLS, I/O
inline constexpr int usage = 2;           // bad options or configuration
inline constexpr int not_registered = 3;  // rvconnect: no hidden server for the UUID (404)
inline constexpr int service_down = 4;    // rvconnect: hidden side could not reach its service (502/504)
inline constexpr int refused = 5;         // rvconnect: the server refused otherwise (4xx/5xx)
}  // namespace exit_code

// Bad options, files or settings: the user must change something. Exit 2.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failure with a specific exit code, raised where the decision is made and
// turned into a message and exit code only at the edge (run_main).
struct exit_error : std::runtime_error {
  exit_error(int code, const std::string& what) : std::runtime_error(what), code(code) {}
  int code;
};

}  // namespace rv
