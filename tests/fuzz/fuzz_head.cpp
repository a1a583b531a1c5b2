// libFuzzer target: the HTTP head parser on arbitrary bytes, format -> parse round trips, and
// the incremental parser fed in pieces against the one-shot parse.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "rv/head.hpp"

namespace {

// A mismatch is a bug: abort so libFuzzer saves the input.
void check(bool ok) {
  if (!ok) std::abort();
}

bool same_fields(const std::vector<rv::header_field>& a, const std::vector<rv::header_field>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  return true;
}

// Limits the formatted head always fits: formatting writes ": " after each
// name, so a line can grow by a byte over the one that parsed.
rv::head_limits roomy(const std::string& text, std::size_t fields) {
  return {.max_line = text.size(), .max_head = text.size() + 1, .max_fields = fields};
}

bool same_head(const rv::request_head& a, const rv::request_head& b) {
  return a.method == b.method && a.target == b.target && a.version_minor == b.version_minor &&
         same_fields(a.fields, b.fields);
}

bool same_head(const rv::response_head& a, const rv::response_head& b) {
  return a.status == b.status && a.reason == b.reason && a.version_minor == b.version_minor &&
         same_fields(a.fields, b.fields);
}

// Feeds the parser `data` as a buffer growing by appends, in steps the input
// chooses: the input's bytes read from its end give the step sizes (0..31; a
// step of 0 is a call with nothing new, never twice in a row). Bytes after a
// head do not change its parse, so the fuzzer can vary the steps there freely.
template <class Head>
rv::parse_result feed_in_steps(std::string_view data, const rv::head_limits& limits, Head& out, bool one_byte) {
  rv::head_parser<Head> parser(limits);
  rv::parse_result r;
  std::size_t size = 0, step = 1;
  for (std::size_t k = 0;; ++k) {
    r = parser.parse(data.substr(0, size));
    if (r.status != rv::parse_status::need_more || size == data.size()) break;
    const std::size_t last = step;
    step = one_byte ? 1 : static_cast<unsigned char>(data[data.size() - 1 - k % data.size()]) % 32;
    if (step == 0 && last == 0) step = 1;
    size = std::min(data.size(), size + step);
  }
  // A finished parser keeps its answer.
  if (r.status != rv::parse_status::need_more) {
    auto again = parser.parse(data);
    check(again.status == r.status && again.consumed == r.consumed && again.error == r.error);
  }
  if (r.status == rv::parse_status::good) out = std::move(parser.head());
  return r;
}

template <class Head>
void check_incremental(std::string_view data, const rv::head_limits& limits, const rv::parse_result& whole,
                       const Head& head) {
  for (bool one_byte : {false, true}) {
    Head got;
    auto r = feed_in_steps(data, limits, got, one_byte);
    check(r.status == whole.status && r.consumed == whole.consumed && r.error == whole.error);
    if (r.status == rv::parse_status::good) check(same_head(got, head));
  }
}

void fuzz_request(std::string_view data, const rv::head_limits& limits) {
  rv::request_head head;
  auto r = rv::parse_request(data, head, limits);
  check_incremental(data, limits, r, head);
  if (r.status != rv::parse_status::good) return;
  check(r.consumed <= data.size() && r.consumed <= limits.max_head);
  std::string text = rv::format_request(head);
  rv::request_head again;
  auto r2 = rv::parse_request(text, again, roomy(text, head.fields.size()));
  check(r2.status == rv::parse_status::good && r2.consumed == text.size());
  check(same_head(again, head));
}

void fuzz_response(std::string_view data, const rv::head_limits& limits) {
  rv::response_head head;
  auto r = rv::parse_response(data, head, limits);
  check_incremental(data, limits, r, head);
  if (r.status != rv::parse_status::good) return;
  check(r.consumed <= data.size() && r.consumed <= limits.max_head);
  check(head.status >= 100 && head.status <= 999);
  std::string text = rv::format_response(head);
  rv::response_head again;
  auto r2 = rv::parse_response(text, again, roomy(text, head.fields.size()));
  check(r2.status == rv::parse_status::good && r2.consumed == text.size());
  check(same_head(again, head));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const rv::head_limits defaults;
  const rv::head_limits small{.max_line = 16, .max_head = 48, .max_fields = 2};
  for (const auto* limits : {&defaults, &small}) {
    fuzz_request(text, *limits);
    fuzz_response(text, *limits);
  }
  return 0;
}
