// The parking lot: single-threaded, driven by the server's io_context.
#include "rvserver/registry.hpp"

namespace rvserver {

parked_ptr registry::park(const std::string& uuid, parked_ptr p) {
  auto& s = slots_[uuid];
  s.parked.push_back(std::move(p));
  parked_ptr evicted;
  if (s.parked.size() > max_per_uuid_) {
    evicted = hand_out(s.parked.front());
    s.parked.pop_front();
  }
  // Wake every waiting client: one wins, the others wait on.
  for (auto* w : s.waiters) w->cancel();
  return evicted;
}

void registry::unpark(const std::string& uuid, const parked_ptr& p) {
  auto it = slots_.find(uuid);
  if (it == slots_.end()) return;
  it->second.parked.remove(p);
  forget_if_empty(uuid);
}

parked_ptr registry::pop_newest(slot& s) {
  if (s.parked.empty()) return nullptr;
  auto p = hand_out(s.parked.back());
  s.parked.pop_back();
  return p;
}

parked_ptr registry::hand_out(parked_ptr p) {
  p->taken_ = true;
  // Wake the registering session's watch so that it lets go of the stream.
  rv::error_code ignored;
  p->stream->socket().cancel(ignored);
  return p;
}

awaitable<parked_ptr> registry::take(const std::string& uuid, std::chrono::milliseconds grace) {
  const auto deadline = rv::steady_clock::now() + grace;
  rv::asio::steady_timer timer(co_await rv::asio::this_coro::executor);
  for (;;) {
    auto& s = slots_[uuid];
    if (auto p = pop_newest(s)) {
      forget_if_empty(uuid);
      co_return p;
    }
    if (rv::steady_clock::now() >= deadline) {
      forget_if_empty(uuid);
      co_return nullptr;
    }
    // park() cancels our timer; if another client wins the race we wait on
    // until our own deadline.
    timer.expires_at(deadline);
    auto it = s.waiters.insert(s.waiters.end(), &timer);
    co_await timer.async_wait(rv::nothrow);
    slots_[uuid].waiters.erase(it);
  }
}

std::vector<parked_ptr> registry::evict(const std::string& uuid) {
  std::vector<parked_ptr> out;
  auto it = slots_.find(uuid);
  if (it == slots_.end()) return out;
  for (auto& p : it->second.parked) out.push_back(hand_out(p));
  it->second.parked.clear();
  forget_if_empty(uuid);
  return out;
}

std::size_t registry::parked(const std::string& uuid) const {
  auto it = slots_.find(uuid);
  return it == slots_.end() ? 0 : it->second.parked.size();
}

void registry::forget_if_empty(const std::string& uuid) {
  auto it = slots_.find(uuid);
  if (it != slots_.end() && it->second.parked.empty() && it->second.waiters.empty()) slots_.erase(it);
}

}  // namespace rvserver
