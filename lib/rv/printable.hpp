// Text that came from the network (a peer's diagnostic, a reason phrase, a
// field value), made safe to print on a terminal or in a one-line log entry.
#pragma once
#include <string>
#include <string_view>

namespace rv {

// `text` with every character a terminal could act on, or that could make a
// line read as something else, replaced by '?':
// - bytes that are not part of well-formed UTF-8 (RFC 3629: no overlong forms,
//   no surrogates, nothing above U+10FFFF), one '?' per byte;
// - C0 controls (TAB, CR and LF too: a log entry is one line), DEL, and the C1
//   controls U+0080..U+009F (U+009B is CSI to many terminals, like ESC '[');
// - the bidi formatting characters U+061C, U+200E, U+200F, U+202A..U+202E and
//   U+2066..U+2069, which reorder what follows them on screen (the "Trojan
//   Source" trick, CVE-2021-42574), and the separators U+2028, U+2029.
// Everything else, ASCII and other UTF-8 alike, is kept as it is.
std::string printable(std::string_view text);

}  // namespace rv
