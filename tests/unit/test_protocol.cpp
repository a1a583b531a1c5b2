// Request dispatch and the heads we write, row by row from docs/PROTOCOL.md §4-§6.
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>

#include "print.hpp"
#include "rv/answers.hpp"
#include "rv/protocol.hpp"

using rv::request_kind;

namespace {

rv::request_head parse(std::string_view text) {
  rv::request_head head;
  auto r = rv::parse_request(text, head);
  BOOST_TEST_REQUIRE(r.status == rv::parse_status::good, "test head does not parse: " << r.error);
  return head;
}

rv::response_head parse_response_text(std::string_view text, std::string_view& body) {
  rv::response_head head;
  auto r = rv::parse_response(text, head);
  BOOST_TEST_REQUIRE(r.status == rv::parse_status::good, "answer does not parse: " << r.error);
  body = text.substr(r.consumed);
  return head;
}

std::string quoted_field(std::string_view value, std::string_view key) {
  std::string prefix = std::string(key) + "=\"";
  auto start = value.find(prefix);
  if (start == std::string_view::npos) return {};
  start += prefix.size();
  return std::string(value.substr(start, value.find('"', start) - start));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(protocol)

BOOST_AUTO_TEST_CASE(classify_follows_the_protocol_tables) {
  struct classify_case {
    std::string_view name;
    std::string_view head;
    request_kind kind;
    std::string_view uuid = {};
    int status = 0;
    std::string_view token = {};
    bool notify = false;
  };
  const classify_case cases[] = {
      // §4: a hidden server registers.
      {"register", "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\n\r\n", request_kind::register_hidden,
       "abc", 0, "123456"},
      {"register asking for arrival notices",
       "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\nRendezvous-Notify: 1\r\n\r\n",
       request_kind::register_hidden, "abc", 0, "123456", true},
      {"notify other than 1 is not asking",
       "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\nRendezvous-Notify: 0\r\n\r\n",
       request_kind::register_hidden, "abc", 0, "123456", false},
      {"register, response among other parameters", "CONNECT uuid:a-b_c.d~e?x=1&response=00 HTTP/1.1\r\n\r\n",
       request_kind::register_hidden, "a-b_c.d~e", 0, "00"},
      {"403 authority-form CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
       request_kind::refused, "", 403},
      {"403 another scheme", "CONNECT http://abc HTTP/1.1\r\n\r\n", request_kind::refused, "", 403},
      {"403 no scheme", "CONNECT abc HTTP/1.1\r\n\r\n", request_kind::refused, "", 403},
      {"407 query without response=", "CONNECT uuid:abc?foo=1 HTTP/1.1\r\nHost: h:1\r\n\r\n",
       request_kind::refused, "", 407},
      {"407 empty query", "CONNECT uuid:abc? HTTP/1.1\r\n\r\n", request_kind::refused, "", 407},
      {"407 empty response=", "CONNECT uuid:abc?response= HTTP/1.1\r\n\r\n", request_kind::refused, "", 407},
      {"400 bad uuid character", "CONNECT uuid:a/b?response=1 HTTP/1.1\r\n\r\n", request_kind::refused, "", 400},
      {"400 empty uuid", "CONNECT uuid: HTTP/1.1\r\n\r\n", request_kind::refused, "", 400},
      {"400 empty uuid with response", "CONNECT uuid:?response=1 HTTP/1.1\r\n\r\n", request_kind::refused, "",
       400},
      {"400 percent-encoded uuid", "CONNECT uuid:a%20b HTTP/1.1\r\n\r\n", request_kind::refused, "", 400},
      // §5: a client asks for a raw stream.
      {"client", "CONNECT uuid:abc HTTP/1.1\r\nHost: h:1\r\n\r\n", request_kind::connect_client, "abc"},
      {"client scheme is case-insensitive", "CONNECT UUID:abc HTTP/1.1\r\n\r\n", request_kind::connect_client,
       "abc"},
      // §6: an HTTP client names the UUID.
      {"Digest username",
       "GET /x HTTP/1.1\r\nHost: h\r\nAuthorization: Digest username=\"abc\", realm=\"rendezvous\", "
       "nonce=\"n\", uri=\"/x\", response=\"r\"\r\n\r\n",
       request_kind::http_client, "abc"},
      {"Basic user", "GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWJjOng=\r\n\r\n",
       request_kind::http_client, "abc"},
      {"upgrade with ?rendezvous=",
       "GET /ws?rendezvous=abc HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
       request_kind::http_client, "abc"},
      {"upgrade among connection options",
       "GET /ws?a=1&rendezvous=abc HTTP/1.1\r\nConnection: keep-alive, upgrade\r\n\r\n",
       request_kind::http_client, "abc"},
      {"Authorization wins over ?rendezvous=",
       "GET /ws?rendezvous=other HTTP/1.1\r\nConnection: Upgrade\r\nAuthorization: Basic YWJjOng=\r\n\r\n",
       request_kind::http_client, "abc"},
      {"?rendezvous= without an upgrade is no credential", "GET /?rendezvous=abc HTTP/1.1\r\nHost: h\r\n\r\n",
       request_kind::challenge},
      {"upgrade with an invalid uuid", "GET /?rendezvous=a%2Fb HTTP/1.1\r\nConnection: Upgrade\r\n\r\n",
       request_kind::refused, "", 400},
      {"Authorization of another scheme", "GET / HTTP/1.1\r\nAuthorization: Bearer abc\r\n\r\n",
       request_kind::refused, "", 400},
      {"Digest without username", "GET / HTTP/1.1\r\nAuthorization: Digest realm=\"rendezvous\"\r\n\r\n",
       request_kind::refused, "", 400},
      {"Basic that is not base64", "GET / HTTP/1.1\r\nAuthorization: Basic !!!!\r\n\r\n", request_kind::refused,
       "", 400},
      {"user name that is no UUID", "GET / HTTP/1.1\r\nAuthorization: Digest username=\"a b\"\r\n\r\n",
       request_kind::refused, "", 400},
      {"no credentials", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", request_kind::challenge},
      {"POST with no credentials", "POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
       request_kind::challenge},
      // Ambiguous heads.
      {"duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\nAuthorization: Basic YWJjOng=\r\n\r\n",
       request_kind::refused, "", 400},
      {"duplicate Host on CONNECT", "CONNECT uuid:abc HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
       request_kind::refused, "", 400},
      {"Content-Length with Transfer-Encoding",
       "POST / HTTP/1.1\r\nAuthorization: Basic YWJjOng=\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       request_kind::refused, "", 400},
      {"two Content-Lengths",
       "POST / HTTP/1.1\r\nAuthorization: Basic YWJjOng=\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
       request_kind::refused, "", 400},
      {"duplicate Authorization",
       "GET / HTTP/1.1\r\nAuthorization: Basic YWJjOng=\r\nAuthorization: Basic YWJjOng=\r\n\r\n",
       request_kind::refused, "", 400},
      // The relay must find where each request ends (RFC 9112 §6.3).
      {"a Transfer-Encoding that does not end in chunked",
       "POST / HTTP/1.1\r\nAuthorization: Basic YWJjOng=\r\nTransfer-Encoding: gzip\r\n\r\n",
       request_kind::refused, "", 400},
      {"a Content-Length that is not a number",
       "POST / HTTP/1.1\r\nAuthorization: Basic YWJjOng=\r\nContent-Length: 1e3\r\n\r\n",
       request_kind::refused, "", 400},
      {"chunked", "POST / HTTP/1.1\r\nAuthorization: Basic YWJjOng=\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       request_kind::http_client, "abc"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      auto r = rv::classify(parse(c.head));
      BOOST_TEST(r.kind == c.kind);
      if (c.kind == request_kind::refused) {
        BOOST_TEST(r.status == c.status);
        BOOST_TEST(!r.diagnostic.empty());
      } else {
        BOOST_TEST(r.uuid == c.uuid);
      }
      if (c.kind == request_kind::register_hidden) {
        BOOST_TEST(r.token == c.token);
        BOOST_TEST(r.wants_notify == c.notify);
      }
    }
}

BOOST_AUTO_TEST_CASE(valid_uuid) {
  BOOST_TEST(rv::valid_uuid("abc"));
  BOOST_TEST(rv::valid_uuid("Aa0-._~"));
  BOOST_TEST(rv::valid_uuid(std::string(128, 'u')));
  BOOST_TEST(!rv::valid_uuid(std::string(129, 'u')));
  BOOST_TEST(!rv::valid_uuid(""));
  for (std::string_view bad : {"a b", "a/b", "a:b", "a?b", "a%b", "a\"b", "a@b", "\xc3\xa9"})
    BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!rv::valid_uuid(bad)); }
}

BOOST_AUTO_TEST_CASE(authorization_user) {
  struct user_case {
    std::string_view name, value;
    std::optional<std::string_view> user;
  };
  const user_case cases[] = {
      {"Digest", R"(Digest username="abc", realm="rendezvous")", "abc"},
      {"Digest scheme in lower case", R"(digest  username="abc")", "abc"},
      {"Digest username not first", R"(Digest realm="a, b", nonce="n", username="abc")", "abc"},
      {"Digest parameter name in upper case", R"(Digest USERNAME="abc")", "abc"},
      {"Digest quoted-pair", R"(Digest username="a\"b")", "a\"b"},
      {"Digest token value", "Digest username=abc, realm=r", "abc"},
      {"Digest spaces around =", R"(Digest username = "abc" , realm="r")", "abc"},
      {"Digest empty username", R"(Digest username="")", std::nullopt},
      {"Digest unterminated quote", R"(Digest username="abc)", std::nullopt},
      {"Digest without username", R"(Digest realm="rendezvous")", std::nullopt},
      {"Digest username* only", R"(Digest username*=UTF-8''abc)", std::nullopt},
      {"Digest garbage", "Digest ,,,=", std::nullopt},
      {"Digest with nothing", "Digest", std::nullopt},
      {"Basic", "Basic YWJjOng=", "abc"},
      {"Basic with empty password", "Basic YWJjOg==", "abc"},
      {"Basic password with a colon", "Basic YWJjOng6eQ==", "abc"},
      {"Basic scheme in upper case", "BASIC YWJjOng=", "abc"},
      {"Basic without a colon", "Basic YWJj", std::nullopt},
      {"Basic with empty user", "Basic OnBhc3M=", std::nullopt},
      {"Basic without padding", "Basic YWJjOng", std::nullopt},
      {"Basic with nothing", "Basic", std::nullopt},
      {"other scheme", "Bearer abc", std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      auto user = rv::authorization_user(c.value);
      BOOST_TEST(user.has_value() == c.user.has_value());
      if (user && c.user) BOOST_TEST(*user == *c.user);
    }
}

BOOST_AUTO_TEST_CASE(query_param) {
  struct query_case {
    std::string_view name, target, param;
    std::optional<std::string_view> value;
  };
  const query_case cases[] = {
      {"last parameter", "/p?a=1&rendezvous=abc", "rendezvous", "abc"},
      {"first parameter", "/p?rendezvous=abc&b=2", "rendezvous", "abc"},
      {"first of two", "/p?rendezvous=abc&rendezvous=def", "rendezvous", "abc"},
      {"empty value", "/p?rendezvous=", "rendezvous", ""},
      {"no equals sign", "/p?rendezvous", "rendezvous", ""},
      {"not percent-decoded", "/p?rendezvous=a%20b", "rendezvous", "a%20b"},
      {"uuid target", "uuid:abc?response=123456", "response", "123456"},
      {"name is a suffix of another", "/p?xrendezvous=abc", "rendezvous", std::nullopt},
      {"name is a prefix of another", "/p?rendezvousx=abc", "rendezvous", std::nullopt},
      {"no query", "/p", "rendezvous", std::nullopt},
      {"in the fragment", "/p?a=1#rendezvous=abc", "rendezvous", std::nullopt},
      {"in the path", "/rendezvous=abc", "rendezvous", std::nullopt},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      auto value = rv::query_param(c.target, c.param);
      BOOST_TEST(value.has_value() == c.value.has_value());
      if (value && c.value) BOOST_TEST(*value == *c.value);
    }
}

BOOST_AUTO_TEST_CASE(error_response_is_json_with_a_matching_length) {
  std::string wire = rv::error_response(429, "say \"hi\" \\ now\n\x01", {{"Retry-After", "30"}});
  std::string_view body;
  auto head = parse_response_text(wire, body);
  BOOST_TEST(head.status == 429);
  BOOST_TEST(head.reason == "Too Many Requests");
  BOOST_TEST_REQUIRE(head.find("Content-Length") != nullptr);
  BOOST_TEST(*head.find("Content-Length") == std::to_string(body.size()));
  BOOST_TEST(*head.find("Content-Type") == "application/json");
  BOOST_TEST(*head.find("Connection") == "close");
  BOOST_TEST(*head.find("Retry-After") == "30");
  BOOST_TEST(body == R"({"error":{"permanent":false,"diagnostic":"say \"hi\" \\ now\n\u0001"}})");
}

BOOST_AUTO_TEST_CASE(digest_challenge_asks_for_the_uuid_with_fresh_nonces) {
  std::string_view body;
  std::string first = rv::digest_challenge_response();
  auto head = parse_response_text(first, body);
  BOOST_TEST(head.status == 401);
  BOOST_TEST(*head.find("Content-Length") == std::to_string(body.size()));
  const std::string* challenge = head.find("WWW-Authenticate");
  BOOST_TEST_REQUIRE(challenge != nullptr);
  BOOST_TEST(challenge->starts_with(R"(Digest realm="rendezvous", qop="auth, auth-int", nonce=")"));
  std::string nonce = quoted_field(*challenge, "nonce");
  std::string opaque = quoted_field(*challenge, "opaque");
  BOOST_TEST(nonce.size() >= 32u);
  BOOST_TEST(opaque.size() >= 32u);
  BOOST_TEST(nonce.find_first_not_of("0123456789abcdef") == std::string::npos);

  std::string second = rv::digest_challenge_response();
  auto head2 = parse_response_text(second, body);
  BOOST_TEST(quoted_field(*head2.find("WWW-Authenticate"), "nonce") != nonce);
  BOOST_TEST(quoted_field(*head2.find("WWW-Authenticate"), "opaque") != opaque);
}

namespace {
// A registration with a code, as a seed hidden server sends it (no extension fields).
rv::registration code_registration(bool notify) {
  rv::registration r;
  r.uuid = "abc";
  r.host = "h:1";
  r.token = "123456";
  r.notify = notify;
  return r;
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_heads_we_send_classify_as_meant) {
  BOOST_TEST(rv::registration_request(code_registration(false)) ==
             "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\n\r\n");
  BOOST_TEST(rv::registration_request(code_registration(true)) ==
             "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\nRendezvous-Notify: 1\r\n\r\n");
  BOOST_TEST(rv::client_connect_request("abc", "h:1") == "CONNECT uuid:abc HTTP/1.1\r\nHost: h:1\r\n\r\n");

  auto registered = rv::classify(parse(rv::registration_request(code_registration(true))));
  BOOST_TEST(registered.kind == request_kind::register_hidden);
  BOOST_TEST(registered.wants_notify);
  auto client = rv::classify(parse(rv::client_connect_request("abc", "h:1")));
  BOOST_TEST(client.kind == request_kind::connect_client);
  BOOST_TEST(client.uuid == "abc");
}

BOOST_AUTO_TEST_CASE(client_keys_from_a_field_or_the_basic_password) {
  auto stream = rv::classify(parse(rv::client_connect_request("abc", "h:1", "KEY-123")));
  BOOST_TEST(stream.kind == request_kind::connect_client);
  BOOST_TEST(stream.client_key == "KEY-123");
  BOOST_TEST(rv::classify(parse(rv::client_connect_request("abc", "h:1"))).client_key.empty());
  // Basic base64("abc:pa:ss"): the password is everything after the first colon.
  auto basic = rv::classify(parse("GET / HTTP/1.1\r\nAuthorization: Basic YWJjOnBhOnNz\r\n\r\n"));
  BOOST_TEST(basic.kind == request_kind::http_client);
  BOOST_TEST(basic.uuid == "abc");
  BOOST_TEST(basic.client_key == "pa:ss");
  // The field wins over the password; neither reaches the hidden server.
  auto head = parse("GET / HTTP/1.1\r\nAuthorization: Basic YWJjOnBhOnNz\r\nRendezvous-Client-Key: F\r\nX: y\r\n\r\n");
  BOOST_TEST(rv::classify(head).client_key == "F");
  BOOST_TEST(rv::forwarded_request(head) == "GET / HTTP/1.1\r\nX: y\r\n\r\n");
  BOOST_TEST(!rv::basic_password("Digest username=\"abc\"").has_value());
}

BOOST_AUTO_TEST_CASE(pool_credential_registrations) {
  rv::registration with_code = code_registration(true);
  with_code.want_credential = true;
  BOOST_TEST(rv::registration_request(with_code) ==
             "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\nRendezvous-Notify: 1\r\n"
             "Rendezvous-Pool: 1\r\n\r\n");
  auto first = rv::classify(parse(rv::registration_request(with_code)));
  BOOST_TEST(first.kind == request_kind::register_hidden);
  BOOST_TEST(first.token == "123456");
  BOOST_TEST(first.credential.empty());
  BOOST_TEST(first.wants_credential);

  rv::registration with_credential = with_code;
  with_credential.token = {};
  with_credential.credential = "v1.123.MAC=";
  BOOST_TEST(rv::registration_request(with_credential) ==
             "CONNECT uuid:abc HTTP/1.1\r\nHost: h:1\r\nRendezvous-Pool-Credential: v1.123.MAC=\r\n"
             "Rendezvous-Notify: 1\r\nRendezvous-Pool: 1\r\n\r\n");
  auto later = rv::classify(parse(rv::registration_request(with_credential)));
  BOOST_TEST(later.kind == request_kind::register_hidden);
  BOOST_TEST(later.uuid == "abc");
  BOOST_TEST(later.credential == "v1.123.MAC=");
  BOOST_TEST(later.token.empty());
  BOOST_TEST(later.wants_notify);

  // A credential and a query at once is ambiguous; an empty one is no credential.
  auto both = rv::classify(parse("CONNECT uuid:abc?response=1 HTTP/1.1\r\nRendezvous-Pool-Credential: x\r\n\r\n"));
  BOOST_TEST(both.kind == request_kind::refused);
  BOOST_TEST(both.status == 400);
  auto empty = rv::classify(parse("CONNECT uuid:abc HTTP/1.1\r\nRendezvous-Pool-Credential:\r\n\r\n"));
  BOOST_TEST(empty.kind == request_kind::refused);
  BOOST_TEST(empty.status == 400);
  // Pool and notice fields on a client's CONNECT mean nothing.
  auto client = rv::classify(parse("CONNECT uuid:abc HTTP/1.1\r\nRendezvous-Pool: 1\r\n\r\n"));
  BOOST_TEST(client.kind == request_kind::connect_client);
  BOOST_TEST(!client.wants_credential);
}

BOOST_AUTO_TEST_CASE(a_registration_may_ask_which_node_took_it) {
  rv::registration r = code_registration(false);
  r.want_node = true;
  BOOST_TEST(rv::registration_request(r) ==
             "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\nRendezvous-Node: 1\r\n\r\n");
  BOOST_TEST(rv::classify(parse(rv::registration_request(r))).wants_node);
  BOOST_TEST(!rv::classify(parse("CONNECT uuid:abc?response=1 HTTP/1.1\r\nRendezvous-Node: yes\r\n\r\n")).wants_node);
  BOOST_TEST(!rv::classify(parse("CONNECT uuid:abc HTTP/1.1\r\nRendezvous-Node: 1\r\n\r\n")).wants_node);
}

BOOST_AUTO_TEST_CASE(forwarded_request_drops_authorization_only) {
  auto head = parse(
      "GET /x?y=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Basic YWJjOng=\r\nProxy-Authorization: Basic eDp5\r\n"
      "authorization: Digest username=\"abc\"\r\nCookie: c=1\r\n\r\n");
  BOOST_TEST(rv::forwarded_request(head) ==
             "GET /x?y=1 HTTP/1.1\r\nHost: h\r\nProxy-Authorization: Basic eDp5\r\nCookie: c=1\r\n\r\n");
}

BOOST_AUTO_TEST_SUITE_END()
