// `rvserver cert`: a self-signed certificate and key for a first deployment, and the SPKI pin
// clients trust it by.
#pragma once

namespace rvserver {

// Runs `rvserver cert ...` (argv[0] is "cert") and returns its exit code. Throws
// rv::config_error on bad usage or an existing file without --force (exit 2), other exceptions
// on failures (exit 1).
int run_cert_command(int argc, char** argv);

}  // namespace rvserver
