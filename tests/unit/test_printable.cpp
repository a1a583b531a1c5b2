// rv::printable and rv::error_diagnostic: text from the network on its way to a
// terminal. Hostile input byte by byte: controls, bidi overrides, malformed UTF-8.
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

#include "rv/answers.hpp"
#include "rv/printable.hpp"

namespace {

struct text_case {
  std::string_view name, input, expected;
};

const text_case printable_cases[] = {
    {"empty", "", ""},
    {"ascii kept", "sshd is down: 127.0.0.1:22 (errno 111)", "sshd is down: 127.0.0.1:22 (errno 111)"},
    {"utf-8 kept", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91"},
    {"NUL", std::string_view("a\0b", 3), "a?b"},
    {"ESC sequence", "\x1b[2J\x1b]0;title\x07", "?[2J?]0;title?"},
    {"TAB CR LF", "a\tb\rc\nd", "a?b?c?d"},
    {"DEL", "a\x7f" "b", "a?b"},
    {"C1 first U+0080", "\xc2\x80", "?"},
    {"C1 CSI U+009B", "\xc2\x9b" "31m", "?31m"},
    {"C1 NEL U+0085", "a\xc2\x85" "b", "a?b"},
    {"C1 last U+009F", "\xc2\x9f", "?"},
    {"U+00A0 after C1 kept", "\xc2\xa0", "\xc2\xa0"},
    {"LRE U+202A", "\xe2\x80\xaa", "?"},
    {"RLO U+202E", "abc\xe2\x80\xae" "fed", "abc?fed"},
    {"U+202F kept", "\xe2\x80\xaf", "\xe2\x80\xaf"},
    {"LRI U+2066", "\xe2\x81\xa6", "?"},
    {"PDI U+2069", "\xe2\x81\xa9", "?"},
    {"U+206A kept", "\xe2\x81\xaa", "\xe2\x81\xaa"},
    {"LRM RLM ALM", "\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "???"},
    {"line and paragraph separators", "\xe2\x80\xa8\xe2\x80\xa9", "??"},
    {"lone continuation byte", "a\x80" "b", "a?b"},
    {"overlong slash C0 AF", "\xc0\xaf", "??"},
    {"overlong ESC C1 9B", "\xc1\x9b", "??"},
    {"overlong 3-byte E0 80 AF", "\xe0\x80\xaf", "???"},
    {"overlong 4-byte F0 80 80 AF", "\xf0\x80\x80\xaf", "????"},
    {"surrogate ED A0 80", "\xed\xa0\x80", "???"},
    {"above U+10FFFF F4 90 80 80", "\xf4\x90\x80\x80", "????"},
    {"F5 lead", "\xf5\x80\x80\x80", "????"},
    {"FF", "\xff", "?"},
    {"truncated at the end", "ok\xe2\x80", "ok??"},
    {"truncated then ASCII", "\xe2\x80" "A", "??A"},
    {"largest code point kept", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},
};

const text_case diagnostic_cases[] = {
    {"ours", R"({"error":{"permanent":false,"diagnostic":"UUID not registered"}})", "UUID not registered"},
    {"spaces around the colon", R"({"error": {"diagnostic" : "spaced"}})", "spaced"},
    {"no diagnostic", R"({"error":{"permanent":false}})", ""},
    {"not JSON", "<html>bad gateway</html>", ""},
    {"a key that is not followed by a string", R"({"diagnostic":3,"diagnostic":"second"})", "second"},
    {"quote and backslash escapes", R"({"diagnostic":"say \"hi\" \\ \/"})", R"(say "hi" \ /)"},
    {"layout escapes become spaces", R"({"diagnostic":"a\nb\rc\td"})", "a b c d"},
    {"\\b and \\f", R"({"diagnostic":"a\bb\fc"})", "a?b?c"},
    {"unknown escape", R"({"diagnostic":"a\qb"})", "a?b"},
    {"\\u of a letter", R"({"diagnostic":"caf\u00e9"})", "caf\xc3\xa9"},
    {"\\u ESC", R"({"diagnostic":"\u001b[2J"})", "?[2J"},
    {"\\u DEL", R"({"diagnostic":"a\u007fb"})", "a?b"},
    {"\\u CSI", R"({"diagnostic":"\u009b31m"})", "?31m"},
    {"\\u RLO and LRI", R"({"diagnostic":"\u202Eabc\u2066"})", "?abc?"},
    {"\\u surrogate pair", R"({"diagnostic":"key \ud83d\udd11"})", "key \xf0\x9f\x94\x91"},
    {"\\u lone high surrogate", R"({"diagnostic":"a\ud83db"})", "a?b"},
    {"\\u lone low surrogate", R"({"diagnostic":"a\udd11b"})", "a?b"},
    {"\\u too short", R"({"diagnostic":"a\u12"})", "a?12"},
    {"\\u not hex", R"({"diagnostic":"a\uZZZZb"})", "a?ZZZZb"},
    {"raw DEL, C1 and RLO", "{\"diagnostic\":\"a\x7f\xc2\x9b\xe2\x80\xae" "b\"}", "a???b"},
    {"raw ESC", "{\"diagnostic\":\"\x1b[31mred\"}", "?[31mred"},
    {"raw invalid UTF-8", "{\"diagnostic\":\"a\xff\xc0" "b\"}", "a??b"},
    {"unterminated string", R"({"diagnostic":"cut off)", "cut off"},
    {"backslash at the end", "{\"diagnostic\":\"cut\\", "cut"},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(printable)

BOOST_AUTO_TEST_CASE(table) {
  for (const auto& c : printable_cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(rv::printable(c.input) == c.expected);
    }
}

BOOST_AUTO_TEST_CASE(nothing_a_terminal_acts_on_survives_any_byte_pair) {
  // Every two-byte input: the output holds no C0 control, no DEL, and no C1 control as UTF-8.
  int dirty = 0;
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      const char in[2] = {static_cast<char>(a), static_cast<char>(b)};
      const auto out = rv::printable(std::string_view(in, 2));
      for (std::size_t i = 0; i < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        const bool c1 = c == 0xc2 && i + 1 < out.size() && static_cast<unsigned char>(out[i + 1]) <= 0x9f;
        if (c < 0x20 || c == 0x7f || c1) {
          if (++dirty <= 5) BOOST_TEST_ERROR("bytes " << a << " " << b << " printed as a control");
          break;
        }
      }
    }
  BOOST_TEST(dirty == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_diagnostic)

BOOST_AUTO_TEST_CASE(table) {
  for (const auto& c : diagnostic_cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(rv::error_diagnostic(c.input) == c.expected);
    }
}

BOOST_AUTO_TEST_SUITE_END()
