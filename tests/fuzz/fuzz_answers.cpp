// libFuzzer target: the readers of answers and notices on any response head that parses, and
// error_diagnostic on any body; each reader's promises checked, and its output written back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rv/answers.hpp"
#include "rv/head.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  rv::response_head head;
  const auto parsed = rv::parse_response(text, head);
  if (parsed.status == rv::parse_status::good) {
    const auto reg = rv::read_registration_answer(head);
    if (reg.credential_max_age.count() < 0 || reg.credential_max_age.count() > rv::max_credential_age) std::abort();
    (void)rv::format_registration_answer(reg);

    const auto wait = rv::read_retry_after(head).count();
    if (wait < 1 || wait > 3600) std::abort();

    std::string problem;
    if (auto notice = rv::read_arrival_notice(head, problem)) {
      if (head.status != 200 || !problem.empty()) std::abort();
      // Written back and read again, a notice is the same notice.
      rv::response_head again;
      if (rv::parse_response(rv::format_arrival_notice(*notice), again).status != rv::parse_status::good) std::abort();
      std::string second_problem;
      auto reread = rv::read_arrival_notice(again, second_problem);
      if (!reread || reread->mode != notice->mode || reread->client != notice->client) std::abort();
    }
    text.remove_prefix(parsed.consumed);
  }

  // What follows the head (or all of it) as an error body, and passed on.
  const auto diagnostic = rv::error_diagnostic(text);
  for (const char c : diagnostic)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
  (void)rv::passed_on_refusal(text);
  return 0;
}
