// How rvhidden and rvconnect reach and trust the rendezvous server, and the
// options that set it: --server, --ca-file, --pin, --server-name,
// --connect-timeout. The struct needs neither Program_options nor OpenSSL;
// the two functions are rv_cli's (server_access.cpp).
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "rv/endpoint.hpp"
#include "rv/trust.hpp"

namespace boost::program_options {
class options_description;
class variables_map;
}  // namespace boost::program_options

namespace rv::cli {

struct server_access {
  endpoint_spec server;
  std::string server_name;  // SNI and the name the certificate must carry
  client_trust trust;
  std::chrono::seconds connect_timeout{10};
};

void add_server_access_options(boost::program_options::options_description& desc);
// Throws rv::config_error naming `program` for a missing or malformed option.
// `server`, when given, replaces --server (rvconnect's names file may name a
// server per target); --server-name then applies only when `keep_server_name`.
server_access read_server_access(const boost::program_options::variables_map& vm, std::string_view program,
                                 const endpoint_spec* server = nullptr, bool keep_server_name = true);

}  // namespace rv::cli
