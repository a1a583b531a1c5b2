// How rvhidden and rvconnect reach and trust the rendezvous server, and the
// options that set it: --server, --ca-file, --pin, --server-name,
// --connect-timeout. The struct needs neither Program_options nor OpenSSL;
// the two functions are rv_cli's (server_access.cpp).
#pragma once
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "rv/endpoint.hpp"
#include "rv/trust.hpp"

namespace boost::program_options {
class options_description;
class variables_map;
}  // namespace boost::program_options

namespace rv::cli {

struct server_access {
  endpoint_spec server;                 // the one to dial: the first of `servers` unless at() chose another
  std::vector<endpoint_spec> servers;   // every --server given, in order (at least one)
  std::string server_name;              // SNI and the name the certificate must carry
  bool server_name_given = false;       // --server-name was given: it applies to every server
  client_trust trust;
  std::chrono::seconds connect_timeout{10};

  // The same access aimed at `address` (one of `servers`, or an address one
  // of them resolved to). The certificate must still carry --server-name or,
  // without it, `name` (default: address.host): an IP address found in DNS
  // for rv.example.com is checked against rv.example.com, not against itself.
  server_access at(const endpoint_spec& address, std::string_view name = {}) const;
};

void add_server_access_options(boost::program_options::options_description& desc);
// Throws rv::config_error naming `program` for a missing or malformed option.
// --server may be given several times (config: several `server =` lines;
// the command line's replace the config file's). `server`, when given,
// replaces every --server (rvconnect's names file may name a
// server per target); --server-name then applies only when `keep_server_name`.
server_access read_server_access(const boost::program_options::variables_map& vm, std::string_view program,
                                 const endpoint_spec* server = nullptr, bool keep_server_name = true);

}  // namespace rv::cli
