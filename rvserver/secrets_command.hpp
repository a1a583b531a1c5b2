// `rvserver secrets add|list|remove|rotate`: provisioning hidden machines' UUIDs and secrets
// in rvserver's secrets file.
#pragma once

namespace rvserver {

// Runs `rvserver secrets ...` (argv[0] is "secrets") and returns its exit code. Throws
// rv::config_error on bad usage, a bad secrets file or a refused edit (exit 2), other
// exceptions on I/O failures (exit 1).
int run_secrets_command(int argc, char** argv);

}  // namespace rvserver
