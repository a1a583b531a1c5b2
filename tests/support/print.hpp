// Lets BOOST_TEST print the library's and the programs' enums when a check fails.
#pragma once
#include <ostream>

#include "rv/head.hpp"
#include "rv/log.hpp"
#include "rv/protocol.hpp"
#include "rvhidden/registration_plan.hpp"
#include "rvserver/registration_gate.hpp"

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

namespace rvhidden {

inline std::ostream& operator<<(std::ostream& os, registration_auth::kind k) {
  using kind = registration_auth::kind;
  switch (k) {
    case kind::wait: return os << "wait";
    case kind::credential: return os << "credential";
    case kind::code: return os << "code";
  }
  return os << "?";
}

inline std::ostream& operator<<(std::ostream& os, registration_result r) {
  switch (r) {
    case registration_result::parked: return os << "parked";
    case registration_result::stale_credential: return os << "stale_credential";
    case registration_result::unauthorized: return os << "unauthorized";
    case registration_result::throttled: return os << "throttled";
    case registration_result::failed: return os << "failed";
  }
  return os << "?";
}

inline std::ostream& operator<<(std::ostream& os, credential_support c) {
  switch (c) {
    case credential_support::unknown: return os << "unknown";
    case credential_support::issued: return os << "issued";
    case credential_support::none: return os << "none";
  }
  return os << "?";
}

}  // namespace rvhidden

namespace rv::log {

inline std::ostream& operator<<(std::ostream& os, level l) {
  switch (l) {
    case level::error: return os << "error";
    case level::warn: return os << "warn";
    case level::info: return os << "info";
    case level::debug: return os << "debug";
  }
  return os << "?";
}

}  // namespace rv::log
