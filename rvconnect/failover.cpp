// rvconnect's failover decisions (see failover.hpp).
#include "rvconnect/failover.hpp"

#include <algorithm>

namespace rvconnect::failover {

verdict judge(outcome what, int status) {
  switch (what) {
    case outcome::answered:
      if (status == 200) return verdict::open;
      // 503: this node cannot serve now (rvserver does not send it today;
      // a node that does means "ask another", docs/PROTOCOL.md §5.1).
      if (status == 503) return verdict::next;
      return verdict::stop;
    case outcome::unresolved:
    case outcome::connect_failed:
    case outcome::timed_out:
    case outcome::handshake_timed_out:
    case outcome::connection_lost:
    case outcome::closed_before_answer:
    case outcome::no_answer:
      return verdict::next;
    case outcome::tls_failed:
    case outcome::malformed_answer:
      return verdict::stop;
  }
  return verdict::stop;
}

outcome handshake_outcome(std::string_view reason) {
  // tls_stream::handshake's words for a socket that failed under it: EOF
  // (a FIN before the handshake completed) and every other socket error. What
  // OpenSSL itself reports (verification, pins, alerts, protocol errors) has
  // other words. lib/rv could say this with a field instead (see the report
  // of issue 12); until then these two prefixes are the contract.
  constexpr std::string_view closed = "the peer closed the connection during the TLS handshake";
  constexpr std::string_view socket_error = "TLS handshake: ";
  if (reason.starts_with(closed) || reason.starts_with(socket_error)) return outcome::connection_lost;
  return outcome::tls_failed;
}

clock::duration budget::next() const {
  const auto left = connect_timeout_ - spent_;
  if (left <= clock::duration::zero()) return clock::duration::zero();
  return std::min(try_timeout_, left);
}

void failure_memory::forget_expired(clock::time_point now) {
  std::erase_if(failed_at_, [&](const auto& entry) { return now - entry.second >= hold_; });
}

void failure_memory::failed(const std::string& address, clock::time_point now) {
  forget_expired(now);
  if (!failed_at_.contains(address) && failed_at_.size() >= capacity_) {
    auto oldest = std::min_element(failed_at_.begin(), failed_at_.end(),
                                   [](const auto& a, const auto& b) { return a.second < b.second; });
    failed_at_.erase(oldest);
  }
  if (capacity_ > 0) failed_at_[address] = now;
}

bool failure_memory::held_back(const std::string& address, clock::time_point now) const {
  auto it = failed_at_.find(address);
  return it != failed_at_.end() && now - it->second < hold_;
}

failure_memory::order failure_memory::split(const std::vector<std::string>& addresses, clock::time_point now) const {
  order o;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (held_back(addresses[i], now))
      o.later.push_back(i);
    else
      o.now.push_back(i);
  }
  return o;
}

std::string summary(const std::vector<failed_attempt>& failed, const std::vector<std::string>& untried,
                    std::chrono::seconds connect_timeout) {
  std::string line = "cannot reach the rendezvous server: ";
  for (std::size_t i = 0; i < failed.size(); ++i) {
    if (i > 0) line += "; ";
    line += failed[i].where + ": " + failed[i].why;
  }
  if (!untried.empty()) {
    if (!failed.empty()) line += "; ";
    line += "not tried, --connect-timeout (" + std::to_string(connect_timeout.count()) + " s) ran out: ";
    for (std::size_t i = 0; i < untried.size(); ++i) {
      if (i > 0) line += ", ";
      line += untried[i];
    }
  }
  return line;
}

std::string describe(std::string_view server, std::string_view address) {
  if (server == address) return std::string(server);
  return std::string(server) + " (" + std::string(address) + ")";
}

}  // namespace rvconnect::failover
