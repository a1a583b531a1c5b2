// libFuzzer target: the HTTP head parser on arbitrary bytes, and format -> parse round trips.
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

void fuzz_request(std::string_view data, const rv::head_limits& limits) {
  rv::request_head head;
  auto r = rv::parse_request(data, head, limits);
  if (r.status != rv::parse_status::good) return;
  check(r.consumed <= data.size() && r.consumed <= limits.max_head);
  std::string text = rv::format_request(head);
  rv::request_head again;
  auto r2 = rv::parse_request(text, again, roomy(text, head.fields.size()));
  check(r2.status == rv::parse_status::good && r2.consumed == text.size());
  check(again.method == head.method && again.target == head.target &&
        again.version_minor == head.version_minor && same_fields(again.fields, head.fields));
}

void fuzz_response(std::string_view data, const rv::head_limits& limits) {
  rv::response_head head;
  auto r = rv::parse_response(data, head, limits);
  if (r.status != rv::parse_status::good) return;
  check(r.consumed <= data.size() && r.consumed <= limits.max_head);
  check(head.status >= 100 && head.status <= 999);
  std::string text = rv::format_response(head);
  rv::response_head again;
  auto r2 = rv::parse_response(text, again, roomy(text, head.fields.size()));
  check(r2.status == rv::parse_status::good && r2.consumed == text.size());
  check(again.status == head.status && again.reason == head.reason &&
        again.version_minor == head.version_minor && same_fields(again.fields, head.fields));
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
