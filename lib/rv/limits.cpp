// Raising the descriptor limit.
#include "rv/limits.hpp"

#include <sys/resource.h>

namespace rv {

std::size_t raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    const rlimit raised{lim.rlim_max, lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= unlimited_descriptors) return unlimited_descriptors;
  return static_cast<std::size_t>(lim.rlim_cur);
}

}  // namespace rv
