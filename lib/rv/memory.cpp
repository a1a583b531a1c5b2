// malloc_trim after bursts (see memory.hpp).
#include "rv/memory.hpp"

#include <malloc.h>

#include "rv/log.hpp"

namespace rv {

awaitable<void> trim_memory_every(steady_clock::duration period, std::function<std::uint64_t()> activity) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::uint64_t seen = activity();
  bool burst = false;  // activity since the last trim
  for (;;) {
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(nothrow);
    if (ec) co_return;
    const auto now = activity();
    if (now != seen) {
      // Still busy: what was freed is being reused; trim once it is quiet.
      seen = now;
      burst = true;
      continue;
    }
    if (!burst) continue;
    burst = false;
    const auto began = steady_clock::now();
    ::malloc_trim(0);
    log::debug("quiet after a burst: gave freed memory back to the system in ",
               std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - began).count(), " us");
  }
}

}  // namespace rv
