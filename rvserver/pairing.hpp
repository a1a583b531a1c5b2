// rvserver's clients: pairing a stream or HTTP client with a parked
// connection of its UUID, and the tunnel between them.
#pragma once
#include <string>
#include <string_view>

#include "rv/head.hpp"
#include "rv/protocol.hpp"
#include "rv/tls_stream.hpp"
#include "rvserver/server_state.hpp"

namespace rvserver {

// Whether a client of this request may have a tunnel: a UUID listed in
// --client-keys takes only clients with its key (at least 128 bits: checked
// in constant time, not throttled).
bool client_key_ok(const server_state& st, const rv::classified_request& req);
inline constexpr std::string_view client_key_refusal =
    "this UUID takes only clients with its client key (Rendezvous-Client-Key, or the Basic password); none or a "
    "wrong one was given";

// CONNECT uuid:ID (docs/PROTOCOL.md §5): a 200, then the tunnel. `client_buf`
// holds what the client sent past its head.
rv::awaitable<void> serve_stream_client(rv::tls_stream& client, std::string& client_buf, const std::string& uuid,
                                        server_state& st, const conn_info& c);
// Any other request naming the UUID (§6): the request goes on to the hidden
// server, and every later request on the connection is checked (§6.4).
rv::awaitable<void> serve_http_client(rv::tls_stream& client, std::string& client_buf, const rv::request_head& head,
                                      const std::string& uuid, server_state& st, const conn_info& c);

}  // namespace rvserver
