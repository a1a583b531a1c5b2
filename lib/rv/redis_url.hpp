// Where a Redis server is and how to log in to it, from a URL (socket-free, rv_proto).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rv {

struct redis_address {
  enum class kind { tcp, tls, unix_socket } how = kind::tcp;
  std::string host = "127.0.0.1"; std::uint16_t port = 6379;  // tcp, tls (IPv6 without brackets)
  std::string path;                                          // unix_socket
  std::string user, password;                                // AUTH (user empty: AUTH password)
  unsigned db = 0;                                           // SELECT when not 0
  // For logs: NEVER includes the password ("redis://user:***@host:port/db",
  // "unix://:***@/run/redis.sock?db=2"); user and path are percent-encoded where they hold
  // anything but unreserved characters (a log entry stays one printable line).
  std::string to_string() const;
};

// Largest database number accepted (Redis's `databases` setting is an int).
inline constexpr unsigned max_redis_db = 1000000;

// The forms accepted (schemes in any case):
//   redis://[[user]:password@]host[:port][/db]      plain TCP, port 6379 by default
//   rediss://[[user]:password@]host[:port][/db]     TLS
//   unix://[[user]:password@]/path/to/socket[?db=N] a Unix domain socket (absolute path)
// As redis-cli reads them, "password@" (no colon) is a password alone and ":password@" too;
// "user:password@" is an ACL user. User and password are percent-decoded (%2F for '/', %40 for
// '@', %3A for ':'), and a user needs a non-empty password. Hosts are names, IPv4 addresses or
// IPv6 addresses in brackets ("[::1]"). No other query, no fragment.
// nullopt with `error` set (words without the password) when malformed.
std::optional<redis_address> parse_redis_url(std::string_view url, std::string& error);

}  // namespace rv
