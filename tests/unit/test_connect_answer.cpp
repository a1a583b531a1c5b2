// rvconnect's words and exit codes for a server that refuses a tunnel: what a
// script acts on (3: nobody registered, 4: the hidden side could not serve,
// 5: refused otherwise) and what the user reads, the diagnostic included.
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

#include "rv/error.hpp"
#include "rvconnect/connect.hpp"

namespace {

rvconnect::options target() {
  rvconnect::options o;
  o.server = {"rv.example", 8899};
  o.uuid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
  return o;
}

std::string error_body(std::string_view diagnostic) {
  return R"({"error":{"permanent":false,"diagnostic":")" + std::string(diagnostic) + R"("}})";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connect_answer)

BOOST_AUTO_TEST_CASE(each_refusal_has_its_exit_code_and_words) {
  struct refusal_case {
    std::string_view name;
    int status;
    std::string body;
    int exit_code;
    std::string message;
  };
  const std::string uuid = target().uuid;
  const refusal_case cases[] = {
      {"404: nobody registered", 404, error_body("UUID not registered"), rv::exit_code::not_registered,
       "no hidden server is registered for " + uuid +
           " at rv.example:8899 (404: UUID not registered); is rvhidden running there?"},
      {"502: the hidden side's own words", 502,
       error_body("cannot reach the local service 127.0.0.1:22: Connection refused"), rv::exit_code::service_down,
       "the hidden side could not serve the tunnel (502: cannot reach the local service 127.0.0.1:22: Connection "
       "refused)"},
      {"504: no answer to the notice", 504, error_body("the hidden server did not answer"),
       rv::exit_code::service_down, "the hidden server did not answer in time (504: the hidden server did not answer)"},
      {"429: refused otherwise", 429, error_body("too many tunnels from this address; retry after 3 s"),
       rv::exit_code::refused,
       "the rendezvous server refused the tunnel (429: too many tunnels from this address; retry after 3 s)"},
      {"403 with no body: the status alone", 403, "", rv::exit_code::refused,
       "the rendezvous server refused the tunnel (403)"},
      {"500 with a body that is not ours", 500, "<html>oops</html>", rv::exit_code::refused,
       "the rendezvous server refused the tunnel (500)"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      const auto e = rvconnect::refusal_error(target(), c.status, c.body);
      BOOST_TEST(e.code == c.exit_code);
      BOOST_TEST(std::string(e.what()) == c.message);
    }
}

BOOST_AUTO_TEST_CASE(a_404_for_a_name_not_in_the_names_file_says_so) {
  auto o = target();
  o.uuid = "nas";
  o.names_note = "; 'nas' is not a name in /home/u/.config/rendezvous/names either";
  const auto e = rvconnect::refusal_error(o, 404, error_body("UUID not registered"));
  BOOST_TEST(e.code == rv::exit_code::not_registered);
  BOOST_TEST(std::string(e.what()) ==
             "no hidden server is registered for nas at rv.example:8899 (404: UUID not registered); is rvhidden "
             "running there?; 'nas' is not a name in /home/u/.config/rendezvous/names either");
}

BOOST_AUTO_TEST_CASE(a_hidden_sides_diagnostic_reaches_the_terminal_without_controls) {
  // The body of a 502 is the hidden side's: an escape sequence in it must not
  // reach the terminal.
  const auto e = rvconnect::refusal_error(target(), 502, error_body(R"(down\u001b[2J\n now)"));
  BOOST_TEST(e.code == rv::exit_code::service_down);
  BOOST_TEST(std::string(e.what()) == "the hidden side could not serve the tunnel (502: down?[2J  now)");
}

BOOST_AUTO_TEST_SUITE_END()
