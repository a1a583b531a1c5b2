// Handing freed memory back to the system. glibc keeps what is freed in its
// free lists; after the burst of handshakes that fills a pool of parked
// connections (each needs ~100 KiB for a moment, then ~20 KiB), that is most
// of an idle server's resident memory, and it stays until reused.
#pragma once
#include <cstdint>
#include <functional>

#include "rv/asio.hpp"

namespace rv {

// Looks at activity() (a count of connections made) every `period`; after a
// period in which it changed, the first period in which it did not (the burst
// is over) calls malloc_trim(0). A busy process, which reuses what it frees,
// is never stalled by the walk of its heap (tens of ms for thousands of
// connections). Runs until its io_context stops.
awaitable<void> trim_memory_every(steady_clock::duration period, std::function<std::uint64_t()> activity);

}  // namespace rv
