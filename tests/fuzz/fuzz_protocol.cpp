// libFuzzer target: classify() on any request that parses; Authorization and query parsing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "rv/answers.hpp"
#include "rv/head.hpp"
#include "rv/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  rv::request_head head;
  if (rv::parse_request(text, head).status == rv::parse_status::good) {
    auto c = rv::classify(head);
    switch (c.kind) {
      case rv::request_kind::register_hidden:
      case rv::request_kind::connect_client:
      case rv::request_kind::http_client:
        if (!rv::valid_uuid(c.uuid)) std::abort();
        break;
      case rv::request_kind::refused:
        if (c.status < 400 || c.status > 599) std::abort();
        (void)rv::error_response(c.status, c.diagnostic);
        break;
      case rv::request_kind::challenge:
        break;
    }
    (void)rv::forwarded_request(head);
  }

  // The same bytes as an Authorization value and as a request target.
  (void)rv::authorization_user(text);
  (void)rv::query_param(text, "response");
  (void)rv::query_param(text, "rendezvous");
  // Split once so the query name is fuzzed too.
  if (auto nl = text.find('\n'); nl != std::string_view::npos)
    (void)rv::query_param(text.substr(nl + 1), text.substr(0, nl));
  return 0;
}
