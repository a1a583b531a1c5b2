// The protocol's requests: dispatch of what arrives, and the requests we write (docs/PROTOCOL.md).
#include "rv/protocol.hpp"

#include <algorithm>

#include "rv/base64.hpp"
#include "rv/http_body.hpp"

namespace rv {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) { return lower(x) == lower(y); });
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// "Connection: keep-alive, Upgrade" lists options (RFC 9110 §7.6.1).
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// The `username` auth-param of a Digest credential (RFC 7616 §3.4), which may
// be a token or a quoted-string.
std::optional<std::string> digest_username(std::string_view params) {
  std::size_t i = 0;
  auto skip_ows = [&] { while (i < params.size() && is_ows(params[i])) ++i; };
  while (true) {
    while (i < params.size() && (is_ows(params[i]) || params[i] == ',')) ++i;
    if (i == params.size()) return std::nullopt;
    std::size_t name_start = i;
    while (i < params.size() && is_tchar(params[i])) ++i;
    std::string_view name = params.substr(name_start, i - name_start);
    skip_ows();
    if (name.empty() || i == params.size() || params[i] != '=') return std::nullopt;
    ++i;
    skip_ows();
    std::string value;
    if (i < params.size() && params[i] == '"') {
      for (++i;; ++i) {
        if (i == params.size()) return std::nullopt;  // unterminated
        if (params[i] == '"') break;
        if (params[i] == '\\' && ++i == params.size()) return std::nullopt;
        value += params[i];
      }
      ++i;
    } else {
      std::size_t start = i;
      while (i < params.size() && is_tchar(params[i])) ++i;
      if (i == start) return std::nullopt;
      value = params.substr(start, i - start);
    }
    skip_ows();
    if (i < params.size() && params[i] != ',') return std::nullopt;
    if (iequals(name, "username")) return value.empty() ? std::nullopt : std::optional(value);
  }
}

classified_request refuse(int status, std::string diagnostic) {
  classified_request r;
  r.kind = request_kind::refused;
  r.status = status;
  r.diagnostic = std::move(diagnostic);
  return r;
}

classified_request classify_connect(const request_head& head) {
  std::string_view target = head.target;
  auto colon = target.find(':');
  // The seed protocol's target is an absolute URI; the authority form
  // ("host:443") or any other scheme is not ours to proxy.
  if (colon == std::string_view::npos || !iequals(target.substr(0, colon), "uuid"))
    return refuse(403, "CONNECT target is not a uuid: URI");
  std::string_view rest = target.substr(colon + 1);
  auto question = rest.find('?');
  std::string_view id = rest.substr(0, question);
  if (!valid_uuid(id)) return refuse(400, "invalid UUID");
  classified_request r;
  r.uuid = id;
  const std::string* credential = head.find(credential_field);
  const std::string* notify = head.find(notify_field);
  const std::string* pool = head.find(pool_field);
  r.wants_notify = notify && *notify == "1";
  r.wants_credential = pool && *pool == "1";
  const std::string* node = head.find(node_field);
  r.wants_node = node && *node == "1";
  if (credential) {
    if (question != std::string_view::npos) return refuse(400, "a pool credential and a query in one registration");
    if (credential->empty()) return refuse(400, "empty pool credential");
    r.kind = request_kind::register_hidden;
    r.credential = *credential;
    return r;
  }
  if (question == std::string_view::npos) {
    r.kind = request_kind::connect_client;
    r.wants_notify = r.wants_credential = r.wants_node = false;
    if (const std::string* key = head.find(client_key_field)) r.client_key = *key;
    return r;
  }
  auto token = query_param(target, "response");
  // An empty response= is no answer at all: the seed's 407 for a missing one.
  if (!token || token->empty()) return refuse(407, "response= is missing");
  r.kind = request_kind::register_hidden;
  r.token = std::move(*token);
  return r;
}

}  // namespace

bool valid_uuid(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '~' || c == '-';
  });
}

classified_request classify(const request_head& head) {
  if (count_fields(head.fields, "Host") > 1) return refuse(400, "more than one Host field");
  if (count_fields(head.fields, "Authorization") > 1) return refuse(400, "more than one Authorization field");
  // RFC 9112 §6.3: both framings at once "ought to be handled as an error" (request smuggling).
  if (count_fields(head.fields, "Transfer-Encoding") > 0 && count_fields(head.fields, "Content-Length") > 0)
    return refuse(400, "both Content-Length and Transfer-Encoding");
  if (count_fields(head.fields, "Content-Length") > 1) return refuse(400, "more than one Content-Length field");
  if (head.method == "CONNECT") return classify_connect(head);
  // The relay follows each request to the next one's head (rvserver/http_tunnel.hpp).
  if (!request_body_framing(head)) return refuse(400, "the request body's length cannot be determined");

  classified_request r;
  if (const std::string* key = head.find(client_key_field)) r.client_key = *key;
  if (const std::string* auth = head.find("Authorization")) {
    auto user = authorization_user(*auth);
    if (!user || !valid_uuid(*user)) return refuse(400, "Authorization names no UUID");
    if (r.client_key.empty())
      if (auto password = basic_password(*auth)) r.client_key = std::move(*password);
    r.kind = request_kind::http_client;
    r.uuid = std::move(*user);
    return r;
  }
  if (asks_upgrade(head)) {
    if (auto id = query_param(head.target, "rendezvous")) {
      if (!valid_uuid(*id)) return refuse(400, "invalid UUID");
      r.kind = request_kind::http_client;
      r.uuid = std::move(*id);
      return r;
    }
  }
  r.kind = request_kind::challenge;
  return r;
}

namespace {
// RFC 7617 §2: "user-id:password" with the first colon separating them.
struct basic_credentials {
  std::string user, password;
};

// The scheme and the rest of an Authorization value.
std::pair<std::string_view, std::string_view> split_scheme(std::string_view value) {
  value = trim(value);
  auto sp = value.find_first_of(" \t");
  if (sp == std::string_view::npos) return {};
  return {value.substr(0, sp), trim(value.substr(sp))};
}

std::optional<basic_credentials> basic(std::string_view value) {
  auto [scheme, rest] = split_scheme(value);
  if (!iequals(scheme, "Basic")) return std::nullopt;
  auto decoded = base64_decode(rest);
  if (!decoded) return std::nullopt;
  std::string text(decoded->begin(), decoded->end());
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return basic_credentials{text.substr(0, colon), text.substr(colon + 1)};
}
}  // namespace

bool asks_upgrade(const request_head& head) {
  const std::string* connection = head.find("Connection");
  return connection && has_token(*connection, "upgrade");
}

std::optional<std::string> authorization_user(std::string_view value) {
  auto [scheme, rest] = split_scheme(value);
  if (iequals(scheme, "Digest")) return digest_username(rest);
  if (auto b = basic(value)) return std::move(b->user);
  return std::nullopt;
}

std::optional<std::string> basic_password(std::string_view value) {
  if (auto b = basic(value)) return std::move(b->password);
  return std::nullopt;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  query = query.substr(0, query.find('#'));
  while (true) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name)
      return std::string(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (amp == std::string_view::npos) return std::nullopt;
    query.remove_prefix(amp + 1);
  }
}

std::string registration_request(const registration& r) {
  std::string out = "CONNECT uuid:" + std::string(r.uuid);
  if (r.credential.empty()) out += "?response=" + std::string(r.token);
  out += " HTTP/1.1\r\nHost: " + std::string(r.host) + "\r\n";
  if (!r.credential.empty()) out += std::string(credential_field) + ": " + std::string(r.credential) + "\r\n";
  if (r.notify) out += std::string(notify_field) + ": 1\r\n";
  if (r.want_credential) out += std::string(pool_field) + ": 1\r\n";
  if (r.want_node) out += std::string(node_field) + ": 1\r\n";
  return out + "\r\n";
}

std::string client_connect_request(std::string_view uuid, std::string_view host, std::string_view client_key) {
  std::string out = "CONNECT uuid:" + std::string(uuid) + " HTTP/1.1\r\nHost: " + std::string(host) + "\r\n";
  if (!client_key.empty()) out += std::string(client_key_field) + ": " + std::string(client_key) + "\r\n";
  return out + "\r\n";
}

std::string forwarded_request(const request_head& head) {
  request_head copy = head;
  std::erase_if(copy.fields, [](const header_field& f) {
    return iequals(f.name, "Authorization") || iequals(f.name, client_key_field);
  });
  return format_request(copy);
}

}  // namespace rv
