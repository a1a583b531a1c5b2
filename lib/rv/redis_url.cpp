// Redis URLs (see redis_url.hpp). Error messages never quote the URL: it may hold a password,
// and a mistyped one often ends up where a host or port should be.
#include "rv/redis_url.hpp"

#include <cctype>

namespace rv {

namespace {

// sockaddr_un's sun_path is 108 bytes on Linux, its terminating NUL included.
constexpr std::size_t max_socket_path = 107;

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

// `text` with every byte that is neither unreserved nor in `keep` written as %XX.
std::string encode(std::string_view text, std::string_view keep = {}) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (unreserved(c) || keep.find(c) != std::string_view::npos) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool percent_decode(std::string_view text, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    const int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool parse_number(std::string_view text, unsigned max, unsigned& out) {
  if (text.empty() || text.size() > 7) return false;
  unsigned n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n > max) return false;
  out = n;
  return true;
}

bool host_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
}

// "[user:]password" before the '@': redis-cli's reading (a part without ':' is the password).
bool parse_userinfo(std::string_view info, redis_address& a, std::string& error) {
  std::string_view user, password = info;
  if (const auto colon = info.find(':'); colon != std::string_view::npos) {
    user = info.substr(0, colon);
    password = info.substr(colon + 1);
  }
  if (!percent_decode(user, a.user) || !percent_decode(password, a.password)) {
    error = "malformed percent-encoding in the user or password";
    return false;
  }
  if (!a.user.empty() && a.password.empty()) {
    error = "a user needs a password";
    return false;
  }
  return true;
}

// host[:port] or [v6]:port.
bool parse_host_port(std::string_view text, redis_address& a, std::string& error) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = "unclosed '[' in the host";
      return false;
    }
    host = text.substr(1, close - 1);
    const auto after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "stray text after the bracketed host";
        return false;
      }
      port = after.substr(1);
      if (port.empty()) {
        error = "empty port";
        return false;
      }
    }
    bool colon = false;
    for (char c : host) {
      if (c == ':') {
        colon = true;
      } else if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '.') {
        error = "malformed IPv6 address in brackets";
        return false;
      }
    }
    if (!colon) {
      error = "malformed IPv6 address in brackets";
      return false;
    }
  } else {
    const auto colon = text.find(':');
    host = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.find(':') != std::string_view::npos) {
        error = "an IPv6 host must be in brackets";
        return false;
      }
      if (port.empty()) {
        error = "empty port";
        return false;
      }
    }
    for (char c : host) {
      if (!host_name_char(c)) {
        error = "malformed host (percent-encode '/', '@' and ':' in a password)";
        return false;
      }
    }
  }
  if (host.empty()) {
    error = "no host";
    return false;
  }
  a.host.assign(host);
  if (!port.empty()) {
    unsigned p = 0;
    if (!parse_number(port, 65535, p) || p == 0) {
      error = "port not a number in 1..65535";
      return false;
    }
    a.port = static_cast<std::uint16_t>(p);
  }
  return true;
}

bool lower_equal(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != lower[i]) return false;
  return true;
}

}  // namespace

std::string redis_address::to_string() const {
  std::string out;
  switch (how) {
    case kind::tcp: out = "redis://"; break;
    case kind::tls: out = "rediss://"; break;
    case kind::unix_socket: out = "unix://"; break;
  }
  if (!user.empty() || !password.empty()) {
    out += encode(user);
    out += password.empty() ? ":@" : ":***@";
  }
  if (how == kind::unix_socket) {
    out += encode(path, "/");
    if (db != 0) out += "?db=" + std::to_string(db);
    return out;
  }
  if (host.find(':') != std::string::npos) {
    out += '[' + encode(host, ":") + ']';
  } else {
    out += encode(host);
  }
  out += ':' + std::to_string(port) + '/' + std::to_string(db);
  return out;
}

std::optional<redis_address> parse_redis_url(std::string_view url, std::string& error) {
  error.clear();
  redis_address a;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    error = "not a URL (redis://, rediss:// or unix://)";
    return std::nullopt;
  }
  const auto scheme = url.substr(0, sep);
  if (lower_equal(scheme, "redis")) {
    a.how = redis_address::kind::tcp;
  } else if (lower_equal(scheme, "rediss")) {
    a.how = redis_address::kind::tls;
  } else if (lower_equal(scheme, "unix")) {
    a.how = redis_address::kind::unix_socket;
  } else {
    error = "unknown scheme (redis://, rediss:// or unix://)";
    return std::nullopt;
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) {
    error = "a fragment ('#') in the URL (percent-encode '#' in a password as %23)";
    return std::nullopt;
  }

  if (a.how == redis_address::kind::unix_socket) {
    // unix://[userinfo@]/path[?db=N]: the path starts at the first '/', and may hold '@'.
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      error = "no socket path (unix:///path/to/socket)";
      return std::nullopt;
    }
    const auto authority = rest.substr(0, slash);
    if (!authority.empty()) {
      if (authority.back() != '@') {
        error = "unix:// takes no host: unix:///path/to/socket";
        return std::nullopt;
      }
      if (!parse_userinfo(authority.substr(0, authority.size() - 1), a, error)) return std::nullopt;
    }
    auto path = rest.substr(slash);
    std::string_view query;
    if (const auto q = path.find('?'); q != std::string_view::npos) {
      query = path.substr(q + 1);
      path = path.substr(0, q);
    }
    if (path.size() < 2) {
      error = "no socket path (unix:///path/to/socket)";
      return std::nullopt;
    }
    if (path.size() > max_socket_path) {
      error = "socket path longer than " + std::to_string(max_socket_path) + " bytes";
      return std::nullopt;
    }
    for (char c : path) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        error = "a control character in the socket path";
        return std::nullopt;
      }
    }
    a.path.assign(path);
    if (!query.empty() || url.back() == '?') {
      if (query.substr(0, 3) != "db=" || !parse_number(query.substr(3), max_redis_db, a.db)) {
        error = "the only query is db=N (N a database number up to " + std::to_string(max_redis_db) + ")";
        return std::nullopt;
      }
    }
    return a;
  }

  // redis[s]://[userinfo@]host[:port][/db]
  const auto end = rest.find_first_of("/?");
  auto authority = rest.substr(0, end);
  const auto tail = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    if (!parse_userinfo(authority.substr(0, at), a, error)) return std::nullopt;
    authority = authority.substr(at + 1);
  }
  if (!parse_host_port(authority, a, error)) return std::nullopt;
  if (!tail.empty()) {
    if (tail.front() == '?') {
      error = "a query in a redis:// URL (the database goes in the path: /N)";
      return std::nullopt;
    }
    const auto db = tail.substr(1);
    if (!db.empty() && !parse_number(db, max_redis_db, a.db)) {
      error = "the path is a database number up to " + std::to_string(max_redis_db) +
              " (percent-encode '/' in a password as %2F)";
      return std::nullopt;
    }
  }
  return a;
}

}  // namespace rv
