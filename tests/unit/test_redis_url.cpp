// Redis URLs as --redis takes them, and their form in logs (never the password).
#include <boost/test/unit_test.hpp>

#include <string>

#include "rv/redis_url.hpp"

using kind = rv::redis_address::kind;

namespace rv {
inline std::ostream& operator<<(std::ostream& os, redis_address::kind k) {
  switch (k) {
    case redis_address::kind::tcp: return os << "tcp";
    case redis_address::kind::tls: return os << "tls";
    case redis_address::kind::unix_socket: return os << "unix_socket";
  }
  return os;
}
}  // namespace rv

BOOST_AUTO_TEST_SUITE(redis_url)

BOOST_AUTO_TEST_CASE(accepted_forms) {
  struct good_case {
    std::string_view url;
    kind how;
    std::string host;
    std::uint16_t port;
    std::string path, user, password;
    unsigned db;
    std::string logged;  // to_string()
  };
  const good_case cases[] = {
      {"redis://127.0.0.1", kind::tcp, "127.0.0.1", 6379, "", "", "", 0, "redis://127.0.0.1:6379/0"},
      {"redis://localhost:6380/", kind::tcp, "localhost", 6380, "", "", "", 0, "redis://localhost:6380/0"},
      {"redis://redis.example:6379/3", kind::tcp, "redis.example", 6379, "", "", "", 3,
       "redis://redis.example:6379/3"},
      {"REDIS://h", kind::tcp, "h", 6379, "", "", "", 0, "redis://h:6379/0"},
      {"redis://:s3cret@h", kind::tcp, "h", 6379, "", "", "s3cret", 0, "redis://:***@h:6379/0"},
      {"redis://s3cret@h", kind::tcp, "h", 6379, "", "", "s3cret", 0, "redis://:***@h:6379/0"},
      {"redis://alice:s3cret@h:1/15", kind::tcp, "h", 1, "", "alice", "s3cret", 15,
       "redis://alice:***@h:1/15"},
      {"redis://alice:p%40ss%3Aw%2Frd@h", kind::tcp, "h", 6379, "", "alice", "p@ss:w/rd", 0,
       "redis://alice:***@h:6379/0"},
      {"redis://al%20ice:pa:ss@h", kind::tcp, "h", 6379, "", "al ice", "pa:ss", 0,
       "redis://al%20ice:***@h:6379/0"},
      {"redis://:a@b@h", kind::tcp, "h", 6379, "", "", "a@b", 0, "redis://:***@h:6379/0"},
      {"redis://[::1]:7000/2", kind::tcp, "::1", 7000, "", "", "", 2, "redis://[::1]:7000/2"},
      {"redis://[fd00::5]", kind::tcp, "fd00::5", 6379, "", "", "", 0, "redis://[fd00::5]:6379/0"},
      {"rediss://:pw@redis.example:6380/1", kind::tls, "redis.example", 6380, "", "", "pw", 1,
       "rediss://:***@redis.example:6380/1"},
      {"unix:///run/redis/redis.sock", kind::unix_socket, "127.0.0.1", 6379, "/run/redis/redis.sock", "", "",
       0, "unix:///run/redis/redis.sock"},
      {"unix:///tmp/r.sock?db=4", kind::unix_socket, "127.0.0.1", 6379, "/tmp/r.sock", "", "", 4,
       "unix:///tmp/r.sock?db=4"},
      {"unix://bob:pw@/run/user@1000/r.sock", kind::unix_socket, "127.0.0.1", 6379, "/run/user@1000/r.sock",
       "bob", "pw", 0, "unix://bob:***@/run/user%401000/r.sock"},
      {"unix://:pw@/r.sock?db=1", kind::unix_socket, "127.0.0.1", 6379, "/r.sock", "", "pw", 1,
       "unix://:***@/r.sock?db=1"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.url) {
      std::string error;
      auto a = rv::parse_redis_url(c.url, error);
      BOOST_TEST_REQUIRE(a.has_value(), error);
      BOOST_TEST(error.empty());
      BOOST_TEST(a->how == c.how);
      BOOST_TEST(a->host == c.host);
      BOOST_TEST(a->port == c.port);
      BOOST_TEST(a->path == c.path);
      BOOST_TEST(a->user == c.user);
      BOOST_TEST(a->password == c.password);
      BOOST_TEST(a->db == c.db);
      BOOST_TEST(a->to_string() == c.logged);
      if (!c.password.empty()) BOOST_TEST(a->to_string().find(c.password) == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(rejects) {
  struct bad_case {
    std::string_view name, url, why;  // why: part of the error
  };
  const std::string long_path = "unix:///" + std::string(120, 'a');
  const bad_case cases[] = {
      {"empty", "", "not a URL"},
      {"no scheme", "127.0.0.1:6379", "not a URL"},
      {"http", "http://h", "unknown scheme"},
      {"no host", "redis://", "no host"},
      {"no host with a password", "redis://:pw@", "no host"},
      {"no host, a port", "redis://:6379", "no host"},
      {"port 0", "redis://h:0", "port"},
      {"port too big", "redis://h:65536", "port"},
      {"port with letters", "redis://h:63x", "port"},
      {"empty port", "redis://h:", "empty port"},
      {"unbracketed IPv6", "redis://::1:6379", "brackets"},
      {"unclosed bracket", "redis://[::1:6379", "unclosed"},
      {"IPv4 in brackets", "redis://[127.0.0.1]", "IPv6"},
      {"junk after brackets", "redis://[::1]x", "stray"},
      {"bad host character", "redis://h!st", "malformed host"},
      {"db not a number", "redis://h/x", "database number"},
      {"db too big", "redis://h/99999999", "database number"},
      {"a path past the db", "redis://h/1/2", "database number"},
      {"a query", "redis://h?db=1", "query"},
      {"a fragment", "redis://h#x", "fragment"},
      {"bad percent-encoding", "redis://:%zz@h", "percent"},
      {"truncated percent-encoding", "redis://:ab%4@h", "percent"},
      {"user without a password", "redis://alice:@h", "needs a password"},
      {"unix without a path", "unix://", "no socket path"},
      {"unix with a host", "unix://host/tmp/r.sock", "takes no host"},
      {"unix with only a slash", "unix:///", "no socket path"},
      {"unix with another query", "unix:///tmp/r.sock?timeout=1", "db=N"},
      {"unix with an empty query", "unix:///tmp/r.sock?", "db=N"},
      {"unix with a bad db", "unix:///tmp/r.sock?db=x", "db=N"},
      {"unix path too long", long_path, "longer than"},
      {"unix path with a control character", "unix:///tmp/r\n.sock", "control character"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      std::string error;
      BOOST_TEST(!rv::parse_redis_url(c.url, error).has_value());
      BOOST_TEST(error.find(c.why) != std::string::npos, "error: " << error);
    }
}

// A password typed with a '/' or '#' unencoded breaks the URL; the error must not quote it.
BOOST_AUTO_TEST_CASE(errors_never_quote_the_password) {
  for (std::string_view url : {"redis://:xyzzy/plugh@h", "redis://:xyzzy#plugh@h", "redis://u:xyzzy/plugh@h/1",
                               "redis://:xyzzy%plugh@h", "redis://:xyzzy?plugh@h", "redis://xyzzy:plugh@h:x"})
    BOOST_TEST_CONTEXT(url) {
      std::string error;
      BOOST_TEST(!rv::parse_redis_url(url, error).has_value());
      BOOST_TEST(!error.empty());
      BOOST_TEST(error.find("xyzzy") == std::string::npos, error);
      BOOST_TEST(error.find("plugh") == std::string::npos, error);
    }
}

BOOST_AUTO_TEST_CASE(to_string_of_a_hand_made_address_hides_the_password) {
  rv::redis_address a;
  a.password = "hunter2";
  a.user = "admin\n";
  a.host = "::1";
  a.db = 9;
  BOOST_TEST(a.to_string() == "redis://admin%0A:***@[::1]:6379/9");
  a.how = kind::unix_socket;
  a.path = "/run/redis sock";
  BOOST_TEST(a.to_string() == "unix://admin%0A:***@/run/redis%20sock?db=9");
}

BOOST_AUTO_TEST_SUITE_END()
