// The protocol's answers and notices (docs/PROTOCOL.md §2.3, §4.1, §4.2, §4.5, §6.2), each with its writer
// and its reader, without I/O: what rvserver answers a registration or a
// client, the arrival notice it sends a hidden server, the hidden server's
// answer to it, and the error answers with their JSON diagnostic.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rv/head.hpp"
#include "rv/protocol.hpp"

namespace rv {

// ------------------------------------------------------------------ errors

// Error answer: status line with reason, Content-Type: application/json,
// Content-Length, Connection: close, any `extra` fields, and the body
// {"error":{"permanent":false,"diagnostic":"..."}} with the diagnostic JSON-escaped.
std::string error_response(int status, std::string_view diagnostic,
                           const std::vector<header_field>& extra = {});

// The "diagnostic" string of an error body {"error":{...,"diagnostic":"..."}},
// its JSON escapes decoded (\uXXXX too, with surrogate pairs; \n, \r and \t
// become spaces) and then passed through rv::printable: the body of a 502 is
// written by the hidden side (rvserver passes a hidden server's refusal on), so
// nothing in it may reach a terminal as a control or bidi character. Empty
// when the body has no such string. Not a JSON parser: the first "diagnostic"
// key followed by a colon and a string is taken, wherever it is.
std::string error_diagnostic(std::string_view body);

// A 502 whose body is a hidden server's own error body, passed on as it came
// (its words reach the client; error_diagnostic makes them safe to print).
std::string passed_on_refusal(std::string_view body);

// 401 for an HTTP client with no credentials, with
// WWW-Authenticate: Digest realm="rendezvous", qop="auth, auth-int", nonce="N", opaque="O"
// where N and O are fresh random hex strings.
std::string digest_challenge_response();

// ------------------------------------------------------------------ 429

// Retry-After counts whole seconds (RFC 9110 §10.2.3): a wait rounded up, at least 1.
long retry_after_seconds(std::chrono::milliseconds wait);
// 429 with Retry-After: SECONDS; the diagnostic ends in "; retry after SECONDS s".
std::string throttled_response(long seconds, std::string_view diagnostic);
// The same with 503: the server cannot judge the request now (a cluster node
// whose Redis is down), and another node or a later try may.
std::string unavailable_response(long seconds, std::string_view diagnostic);
// The wait a 429 asks for: Retry-After in seconds (we never send the date
// form), clamped to 1 s .. 1 h, so that neither a missing field nor a huge
// number makes a hidden server hammer or give up.
std::chrono::seconds read_retry_after(const response_head& answer);


// ------------------------------------------------------------------ registration

// The 200 that parks a hidden server's connection: whether arrival notices
// will come, and a pool credential with its lifetime when one was asked for.
struct registration_answer {
  bool notify = false;
  std::optional<std::string> credential;  // Rendezvous-Pool-Credential, when present
  std::chrono::seconds credential_max_age{0};
  std::optional<std::string> node;  // Rendezvous-Node: the node's ID, when asked for and known
};

// A pool credential is kept at most a day, whatever Max-Age says: ours live
// minutes, and a server that no longer takes one answers 401.
inline constexpr long max_credential_age = 24 * 3600;

// "HTTP/1.1 200 OK", then Rendezvous-Notify: 1 when `notify`, then the
// credential and its Max-Age when a credential is given, then the node's ID.
std::string format_registration_answer(const registration_answer& a);
// Reads a 200 answer to a registration (the status is the caller's to judge).
// A Max-Age that is not all digits reads as 0; a larger one than
// max_credential_age as that (the number is added to a clock, and a big one
// would overflow it).
registration_answer read_registration_answer(const response_head& answer);

// ------------------------------------------------------------------ arrivals

// "HTTP/1.1 200 OK" with no fields: rvserver's answer to a client whose
// tunnel opens, and a hidden server's answer to a stream-mode notice.
std::string tunnel_open_response();

enum class arrival_mode { stream, http };
std::string_view to_string(arrival_mode m);

// What rvserver tells a hidden server that asked for notices, before the
// client's bytes: how the client speaks and where it comes from.
struct arrival_notice {
  arrival_mode mode = arrival_mode::stream;
  std::string client;  // the client's address as "host:port", "[v6]:port"
};
// "HTTP/1.1 200 Rendezvous\r\nRendezvous-Mode: MODE\r\nRendezvous-Client: ADDR\r\n\r\n"
std::string format_arrival_notice(const arrival_notice& n);

// Reads a notice. nullopt when the head is not one: a status other than 200
// (then `problem` stays empty: the server closed the parking) or a mode we do
// not know (then `problem` says so). A missing mode means stream; a missing
// client is "?"; the client's address is passed through rv::printable, since
// it ends up in log lines.
std::optional<arrival_notice> read_arrival_notice(const response_head& head, std::string& problem);

// --------------------------------------------------------------- plain HTTP

// A 200 with Content-Type, Content-Length and Connection: close around `body`
// (the metrics listener's answer).
std::string ok_response(std::string_view content_type, std::string_view body);

} // namespace rv
