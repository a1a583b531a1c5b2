// The diagnostic of an error answer, as rvconnect prints it.
#pragma once
#include <string>
#include <string_view>

namespace rvconnect {

// The "diagnostic" string of an error body {"error":{...,"diagnostic":"..."}},
// its JSON escapes decoded (\uXXXX too, with surrogate pairs; \n, \r and \t
// become spaces) and then passed through rv::printable: the body of a 502 is
// written by the hidden side (rvserver passes a hidden server's refusal on), so
// nothing in it may reach the terminal as a control or bidi character. Empty
// when the body has no such string. Not a JSON parser: the first "diagnostic"
// key followed by a colon and a string is taken, wherever it is.
std::string json_diagnostic(std::string_view body);

}  // namespace rvconnect
