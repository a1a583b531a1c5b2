// Endpoint strings as the programs' options take them.
#include <boost/test/unit_test.hpp>

#include <string>

#include "rv/endpoint.hpp"

BOOST_AUTO_TEST_SUITE(endpoint)

BOOST_AUTO_TEST_CASE(accepted_forms) {
  struct good_case {
    std::string_view text, default_host, host;
    std::uint16_t port;
  };
  const good_case cases[] = {
      {"127.0.0.1:8899", "", "127.0.0.1", 8899},
      {"[::1]:22", "", "::1", 22},
      {"[::]:0", "", "::", 0},
      {"host.example:443", "", "host.example", 443},
      {"2222", "127.0.0.1", "127.0.0.1", 2222},
      {":80", "0.0.0.0", "0.0.0.0", 80},
      {"host.example:443", "127.0.0.1", "host.example", 443},
      {"h:65535", "", "h", 65535},
      {"[fe80::1%eth0]:22", "", "fe80::1%eth0", 22},
      {"my_host-1:08", "", "my_host-1", 8},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.text << " (default host '" << c.default_host << "')") {
      auto ep = rv::parse_endpoint(c.text, c.default_host);
      BOOST_TEST_REQUIRE(ep.has_value());
      BOOST_TEST(ep->host == c.host);
      BOOST_TEST(ep->port == c.port);
    }
}

BOOST_AUTO_TEST_CASE(rejects) {
  struct reject_case {
    std::string_view name, text, default_host;
  };
  const reject_case cases[] = {
      {"unbracketed IPv6", "::1:22", ""},
      {"unbracketed IPv6 with a default host", "::1:22", "127.0.0.1"},
      {"no host and no default", ":80", ""},
      {"bare port and no default", "2222", ""},
      {"port over 65535", "h:99999", ""},
      {"port 65536", "h:65536", ""},
      {"empty port", "h:", ""},
      {"port with stray text", "h:8x", ""},
      {"negative port", "h:-1", ""},
      {"signed port", "h:+80", ""},
      {"trailing space", "h:80 ", ""},
      {"space in the host", "h x:80", ""},
      {"no port", "host.example", "127.0.0.1"},
      {"empty", "", ""},
      {"empty with a default", "", "127.0.0.1"},
      {"brackets without port", "[::1]", ""},
      {"brackets then no colon", "[::1]22", ""},
      {"brackets then empty port", "[::1]:", ""},
      {"empty brackets", "[]:80", ""},
      {"unclosed bracket", "[::1:22", ""},
      {"IPv4 in brackets", "[127.0.0.1]:80", ""},
      {"user info", "user@h:80", ""},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(!rv::parse_endpoint(c.text, c.default_host).has_value());
    }
}

BOOST_AUTO_TEST_CASE(to_string_brackets_ipv6_and_round_trips) {
  for (std::string_view text : {"127.0.0.1:8899", "[::1]:22", "[::]:0", "host.example:443"})
    BOOST_TEST_CONTEXT(text) {
      auto ep = rv::parse_endpoint(text);
      BOOST_TEST_REQUIRE(ep.has_value());
      BOOST_TEST(rv::to_string(*ep) == text);
    }
}

BOOST_AUTO_TEST_SUITE_END()
