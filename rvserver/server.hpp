// The rendezvous server's process: it binds its listeners, drops root, loads
// its files, and runs one session coroutine per connection (session.hpp) on
// one thread until a signal stops it; SIGHUP reloads the files.
#pragma once
#include "rvserver/options.hpp"

namespace rvserver {

// Runs until SIGINT/SIGTERM. Returns the exit code. Throws rv::config_error
// for bad options, certificates or secrets, and rv::exit_error (status 1)
// when it cannot listen or drop privileges.
int run(const options& opts);

}  // namespace rvserver
