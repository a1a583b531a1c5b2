// rvconnect's failover across the nodes of one service, without sockets:
// which outcome of an attempt at one address moves on to the next and which
// ends the run, the time each attempt may spend connecting, the addresses
// held back because they failed lately, and the one line that sums up a run
// in which every address failed. connect.cpp does the I/O.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rvconnect::failover {

using clock = std::chrono::steady_clock;

// What became of one attempt at one address (or, for `unresolved`, at one
// server name).
enum class outcome {
  answered,              // the server answered the CONNECT: see the status
  unresolved,            // the name resolved to no address, or resolving failed or timed out
  connect_failed,        // refused, reset, unreachable, or the connect timed out
  timed_out,             // connect and TLS handshake together took longer than the attempt's budget
  handshake_timed_out,   // connected, but no TLS handshake in time: a silent (stopped) node
  connection_lost,       // EOF or a socket error during the TLS handshake
  tls_failed,            // certificate, name or pin verification, or a TLS protocol failure
  closed_before_answer,  // the request could not be written, or the connection ended before a whole answer
  no_answer,             // no answer within --answer-timeout
  malformed_answer,      // an answer that is not a valid HTTP response head
};

enum class verdict {
  open,  // 200: the tunnel is open
  next,  // this node cannot serve now: try the next address
  stop,  // an answer every node would give, or a security answer: report it and stop
};

// The policy (docs/PROTOCOL.md §5.1). `status` matters for `answered` only.
// Moves on after what says "this node is down, silent or busy": a failed
// lookup or connect, a timeout, a connection lost before the answer, no
// answer, 503. Stops after a certificate or pin failure (trying another
// address would look for one that passes), a malformed answer, and every
// status but 200 and 503: 404, 502, 504 are about the hidden server and the
// same at every node, 401/403 about authorization, 429 asks us to slow down.
verdict judge(outcome what, int status = 0);

// A handshake failure in tls_stream::failure_reason()'s words: the peer
// closed or reset the connection (connection_lost), or anything else
// (tls_failed). Unknown words count as tls_failed, so that a change of
// wording can cost a failover but never skip a verification failure.
outcome handshake_outcome(std::string_view reason);

// The time each attempt may spend connecting and handshaking: --try-timeout,
// and no more than what --connect-timeout has left over all attempts. Waiting
// for the server's answer is not counted: a server may hold a client up to
// its grace and the hidden server's notice timeout (--answer-timeout bounds it).
class budget {
 public:
  budget(clock::duration try_timeout, clock::duration connect_timeout)
      : try_timeout_(try_timeout), connect_timeout_(connect_timeout) {}
  // The next attempt's allowance; zero when --connect-timeout is spent.
  clock::duration next() const;
  void spend(clock::duration d) { spent_ += d; }
  bool exhausted() const { return next() <= clock::duration::zero(); }

 private:
  clock::duration try_timeout_;
  clock::duration connect_timeout_;
  clock::duration spent_{};
};

// Addresses ("127.0.0.1:8899", "[::1]:8899") that failed lately, so that a
// dead node does not cost every new connection of --listen its budget. Held
// back for `hold` after a failure; a success forgets it. Keeps at most
// `capacity` addresses (the oldest failure is dropped first). Not
// thread-safe: rvconnect's sessions share one thread.
class failure_memory {
 public:
  static constexpr clock::duration default_hold = std::chrono::seconds(30);
  static constexpr std::size_t default_capacity = 256;

  explicit failure_memory(clock::duration hold = default_hold, std::size_t capacity = default_capacity)
      : hold_(hold), capacity_(capacity) {}

  void failed(const std::string& address, clock::time_point now);
  void succeeded(const std::string& address) { failed_at_.erase(address); }
  bool held_back(const std::string& address, clock::time_point now) const;
  std::size_t size() const { return failed_at_.size(); }

  // The order in which to try `addresses` (given in resolver order): indices
  // of those not held back, in their order, in `now`; those held back in
  // `later`, to be tried after every other address of every server.
  struct order {
    std::vector<std::size_t> now;
    std::vector<std::size_t> later;
  };
  order split(const std::vector<std::string>& addresses, clock::time_point now) const;

 private:
  void forget_expired(clock::time_point now);

  clock::duration hold_;
  std::size_t capacity_;
  std::unordered_map<std::string, clock::time_point> failed_at_;
};

// One failed attempt for the final error line: where ("rv.example.com:8899
// (192.0.2.7:8899)", or the address alone when --server gave it) and why, briefly.
struct failed_attempt {
  std::string where;
  std::string why;
};

// "cannot reach the rendezvous server: A: WHY; B: WHY", then "; not tried,
// --connect-timeout (S s) ran out: C, D" naming the addresses (or server
// names, when not yet resolved) that the overall deadline left untried.
std::string summary(const std::vector<failed_attempt>& failed, const std::vector<std::string>& untried,
                    std::chrono::seconds connect_timeout);

// How an attempt's target is named in logs and messages: "NAME:PORT (ADDRESS)"
// for an address a name resolved to, "ADDRESS" for an address --server gave.
std::string describe(std::string_view server, std::string_view address);

}  // namespace rvconnect::failover
