// The protocol's requests and header names (docs/PROTOCOL.md) on top
// of head.hpp, without I/O: what a request asks for, and the heads we write.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rv/head.hpp"

namespace rv {

// Header names of our extensions.
inline constexpr std::string_view notify_field = "Rendezvous-Notify";
inline constexpr std::string_view mode_field = "Rendezvous-Mode";
inline constexpr std::string_view client_field = "Rendezvous-Client";
inline constexpr std::string_view pool_field = "Rendezvous-Pool";  // "1": please issue a pool credential
inline constexpr std::string_view credential_field = "Rendezvous-Pool-Credential";
inline constexpr std::string_view credential_age_field = "Rendezvous-Pool-Max-Age";  // seconds
inline constexpr std::string_view client_key_field = "Rendezvous-Client-Key";
// Request "1": please name your node; answer: the node's ID (§4.4).
inline constexpr std::string_view node_field = "Rendezvous-Node";

// A UUID as this protocol uses it: 1..128 characters from [A-Za-z0-9._~-]
// (RFC 3986 unreserved), so it needs no escaping in a target or a header.
bool valid_uuid(std::string_view id);

enum class request_kind {
  register_hidden,  // CONNECT uuid:ID?response=TOKEN (§4), or with a pool credential (§4.3)
  connect_client,   // CONNECT uuid:ID (§5)
  http_client,      // any other request naming the UUID (§6)
  challenge,        // HTTP request with no UUID at all: answer 401 + digest challenge
  refused,          // answer `status` with `diagnostic`
};

struct classified_request {
  request_kind kind = request_kind::refused;
  std::string uuid;
  std::string token;        // register_hidden with a TOTP code
  std::string credential;   // register_hidden with a pool credential (then token is empty)
  bool wants_notify = false;  // register_hidden: "Rendezvous-Notify: 1" was sent
  bool wants_credential = false;  // register_hidden: "Rendezvous-Pool: 1" was sent
  bool wants_node = false;        // register_hidden: "Rendezvous-Node: 1" was sent
  std::string client_key;   // clients: Rendezvous-Client-Key, or else the Basic password
  int status = 0;           // refused: 400, 403, 407, ...
  std::string diagnostic;   // refused: a short human-readable reason, never a secret
};

// The dispatch of docs/PROTOCOL.md §4-§6:
// - CONNECT with target "uuid:ID?response=T" -> register_hidden
// - CONNECT with target "uuid:ID" and a Rendezvous-Pool-Credential field -> register_hidden
//   with that credential (with a query as well -> refused 400)
// - CONNECT with target "uuid:ID" -> connect_client
// - CONNECT whose target's scheme is not "uuid:" -> refused 403
// - CONNECT "uuid:ID?foo" (a query without response=) -> refused 407
// - a malformed or invalid ID -> refused 400
// - other methods: UUID from Authorization (Digest username= or Basic user),
//   else from "?rendezvous=ID" when "Connection: Upgrade" is present -> http_client;
//   an Authorization that names no UUID -> refused 400; nothing -> challenge.
// - more than one Host, Authorization or Content-Length field, or Content-Length
//   with Transfer-Encoding -> refused 400; so is any other request whose body
//   length cannot be determined (http_body.hpp).
classified_request classify(const request_head& head);

// "upgrade" among the Connection options (RFC 9110 §7.8): if the server
// agrees, the connection stops carrying HTTP after this request.
bool asks_upgrade(const request_head& head);

// The user name in an Authorization value: `Digest username="ID", ...` or
// `Basic base64(ID:password)`. nullopt when there is none or it is malformed.
std::optional<std::string> authorization_user(std::string_view value);
// The password of a Basic Authorization value; nullopt for other schemes.
std::optional<std::string> basic_password(std::string_view value);

// The value of `name` in the query of a request target ("/p?a=1&name=v"), not
// percent-decoded. nullopt when absent.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

// A registration with either a TOTP token or a pool credential, asking for
// arrival notices and for a (fresh) pool credential as told:
// "CONNECT uuid:ID?response=TOKEN HTTP/1.1\r\nHost: HOST\r\n[Rendezvous-Notify: 1\r\n]...\r\n"
struct registration {
  std::string_view uuid;
  std::string_view host;
  std::string_view token;       // the target gets ?response=TOKEN, or
  std::string_view credential;  // when not empty: no query, a Rendezvous-Pool-Credential field
  bool notify = false;
  bool want_credential = false;
  bool want_node = false;  // Rendezvous-Node: 1
};
std::string registration_request(const registration& r);
// "CONNECT uuid:ID HTTP/1.1\r\nHost: HOST\r\n[Rendezvous-Client-Key: KEY\r\n]\r\n"
std::string client_connect_request(std::string_view uuid, std::string_view host, std::string_view client_key = {});

// The request as it goes on to the hidden server: same start line and fields
// minus Authorization and Rendezvous-Client-Key, then the empty line.
std::string forwarded_request(const request_head& head);

} // namespace rv
