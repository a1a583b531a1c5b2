// Lets BOOST_TEST print the library's (and rvserver's) enums when a check fails.
#pragma once
#include <ostream>

#include "rv/head.hpp"
#include "rvserver/registration_gate.hpp"
#include "rv/protocol.hpp"

namespace rv {

inline std::ostream& operator<<(std::ostream& os, parse_status s) {
  switch (s) {
    case parse_status::good: return os << "good";
    case parse_status::need_more: return os << "need_more";
    case parse_status::bad: return os << "bad";
    case parse_status::too_large: return os << "too_large";
  }
  return os << "?";
}

inline std::ostream& operator<<(std::ostream& os, request_kind k) {
  switch (k) {
    case request_kind::register_hidden: return os << "register_hidden";
    case request_kind::connect_client: return os << "connect_client";
    case request_kind::http_client: return os << "http_client";
    case request_kind::challenge: return os << "challenge";
    case request_kind::refused: return os << "refused";
  }
  return os << "?";
}

}  // namespace rv

namespace rvserver {

inline std::ostream& operator<<(std::ostream& os, verdict v) {
  switch (v) {
    case verdict::accepted: return os << "accepted";
    case verdict::throttled: return os << "throttled";
    case verdict::refused: return os << "refused";
    case verdict::replayed: return os << "replayed";
    case verdict::credential_refused: return os << "credential_refused";
  }
  return os << "?";
}

}  // namespace rvserver
