// rvconnect's names file: its grammar, every rejection, and looking a target up
// the way `Host *.rv` / `ProxyCommand rvconnect %h` needs.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include "config_error_of.hpp"
#include "temp_dir.hpp"
#include "rv/error.hpp"
#include "rv/names.hpp"

namespace fs = std::filesystem;

namespace {

const std::string uuid_a = "0b6c1d2e-5f1a-4c3b-9d8e-7f6a5b4c3d2e";
const std::string uuid_b = "9a8b7c6d-1e2f-4a3b-8c9d-0e1f2a3b4c5d";

using rv_test::config_error_of;
using rv_test::temp_dir;

const rv::names_table fleet = rv::parse_names(
    "# the fleet\n"
    "home   " + uuid_a + "\n"
    "Lab    " + uuid_b + "  rv2.example.org:443   # a server of its own\n"
    "home.rv.old " + uuid_b + "\n"
    "raw    my-own.id\n");

}  // namespace

BOOST_AUTO_TEST_SUITE(names)

BOOST_AUTO_TEST_CASE(accepted_forms) {
  struct good_case {
    std::string name, text, key, uuid, server;
  };
  const good_case cases[] = {
      {"name and uuid", "home " + uuid_a + "\n", "home", uuid_a, ""},
      {"with a server", "home " + uuid_a + " rv.example.com:8899\n", "home", uuid_a, "rv.example.com:8899"},
      {"IPv6 server", "home " + uuid_a + " [2001:db8::1]:8899", "home", uuid_a, "[2001:db8::1]:8899"},
      {"tabs, CRLF and a comment", "\thome\t" + uuid_a + "\t# note\r\n", "home", uuid_a, ""},
      {"comment and blank lines", "# header\n\n   \nhome " + uuid_a + "\n# trailer", "home", uuid_a, ""},
      {"key is lower-cased", "HoMe " + uuid_a, "home", uuid_a, ""},
      {"any protocol id", "box my_box.1~x", "box", "my_box.1~x", ""},
      {"dotted name", "home.example " + uuid_a, "home.example", uuid_a, ""},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      auto table = rv::parse_names(c.text);
      BOOST_TEST_REQUIRE(table.size() == 1u);
      BOOST_TEST_REQUIRE(table.count(c.key) == 1u);
      const auto& entry = table.at(c.key);
      BOOST_TEST(entry.uuid == c.uuid);
      BOOST_TEST(entry.server.has_value() == !c.server.empty());
      if (entry.server) BOOST_TEST(rv::to_string(*entry.server) == c.server);
      BOOST_TEST(entry.line > 0u);
    }
  }
}

BOOST_AUTO_TEST_CASE(empty_file_is_an_empty_table) {
  BOOST_TEST(rv::parse_names("").empty());
  BOOST_TEST(rv::parse_names("# nothing yet\n\n").empty());
}

BOOST_AUTO_TEST_CASE(rejections_name_the_origin_and_line) {
  struct bad_case {
    std::string name, text, expected;
  };
  const bad_case cases[] = {
      {"name alone", "home\n", "f:1: expected: NAME UUID [SERVER:PORT]"},
      {"extra field", "home " + uuid_a + " rv:1 more\n", "f:1: extra fields"},
      {"invalid uuid", "home not/a/uuid\n", "f:1: invalid UUID 'not/a/uuid'"},
      {"server without port", "home " + uuid_a + " rv.example.com\n", "f:1: SERVER must be HOST:PORT"},
      {"server with bad port", "home " + uuid_a + " rv:99999\n", "f:1: SERVER must be HOST:PORT"},
      {"unbracketed IPv6", "home " + uuid_a + " 2001:db8::1:8899\n", "f:1: SERVER must be HOST:PORT"},
      {"duplicate", "# x\nhome " + uuid_a + "\nHOME " + uuid_b + "\n",
       "f:3: duplicate name 'HOME' (first on line 2)"},
      {"counts lines after comments", "# a\n\n\nx\n", "f:4: expected"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      auto message = config_error_of([&] { rv::parse_names(c.text, "f"); });
      BOOST_TEST_REQUIRE(message.has_value());
      BOOST_TEST(message->find(c.expected) == 0u, *message);
    }
  }
}

BOOST_AUTO_TEST_CASE(lookup) {
  struct lookup_case {
    std::string name, target, uuid;  // uuid "" = not found
  };
  const lookup_case cases[] = {
      {"exact", "home", uuid_a},
      {"case aside", "HOME", uuid_a},
      {"ssh %h with a suffix", "home.rv", uuid_a},
      {"suffix any case", "Lab.RV", uuid_b},
      {"the whole name first", "home.rv.old", uuid_b},
      {"only the last suffix goes", "home.rv.x", ""},
      {"no partial match", "hom", ""},
      {"no prefix match", "home2.rv", ""},
      {"a dot alone is no name", ".rv", ""},
      {"empty", "", ""},
      {"the uuid is no name", uuid_a, ""},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const auto* entry = rv::find_name(fleet, c.target);
      BOOST_TEST((entry != nullptr) == !c.uuid.empty());
      if (entry) BOOST_TEST(entry->uuid == c.uuid);
    }
  }
}

BOOST_AUTO_TEST_CASE(resolve_falls_back_to_a_literal_uuid) {
  auto named = rv::resolve_target(fleet, "lab.rv");
  BOOST_TEST_REQUIRE(named.has_value());
  BOOST_TEST(named->uuid == uuid_b);
  BOOST_TEST(named->name == "Lab");
  BOOST_TEST_REQUIRE(named->server.has_value());
  BOOST_TEST(rv::to_string(*named->server) == "rv2.example.org:443");
  BOOST_TEST(named->line == 3u);

  auto literal = rv::resolve_target(fleet, uuid_a);
  BOOST_TEST_REQUIRE(literal.has_value());
  BOOST_TEST(literal->uuid == uuid_a);
  BOOST_TEST(!literal->server.has_value());
  BOOST_TEST(literal->line == 0u);  // not from the file

  BOOST_TEST(rv::resolve_target({}, uuid_b)->uuid == uuid_b);
  BOOST_TEST(!rv::resolve_target(fleet, "no such name").has_value());  // neither a name nor a UUID
  BOOST_TEST(!rv::resolve_target(fleet, "").has_value());
  BOOST_TEST(!rv::resolve_target({}, "a/b").has_value());
}

BOOST_AUTO_TEST_CASE(load_names_file) {
  const temp_dir tmp;
  const fs::path dir = tmp.path_;
  const fs::path file = dir / "names";
  std::ofstream(file) << "home " << uuid_a << "\nbad\n";
  auto message = config_error_of([&] { rv::load_names_file(file); });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find(file.string() + ":2: ") == 0u, *message);

  std::ofstream(file) << "home " << uuid_a << "\n";
  BOOST_TEST(rv::load_names_file(file).at("home").uuid == uuid_a);

  message = config_error_of([&] { rv::load_names_file(dir / "missing"); });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("cannot read names file " + (dir / "missing").string()) == 0u, *message);
  message = config_error_of([&] { rv::load_names_file(dir); });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("is a directory") != std::string::npos, *message);
}

BOOST_AUTO_TEST_SUITE_END()
