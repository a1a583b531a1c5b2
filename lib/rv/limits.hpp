// The descriptor limit: every parked connection and every tunnel leg is a
// descriptor, so a program that holds many raises its soft RLIMIT_NOFILE and
// sizes its caps from what it got.
#pragma once
#include <cstddef>
#include <limits>

namespace rv {

// "No limit": what raise_descriptor_limit() returns for RLIM_INFINITY.
inline constexpr std::size_t unlimited_descriptors = std::numeric_limits<std::size_t>::max();

// Raises the soft RLIMIT_NOFILE to the hard limit (nginx's worker_rlimit_nofile
// does the same): the usual soft default of 1024 suits programs that open a
// few files, not one that holds a socket per connection. Returns the soft limit
// in force afterwards: the hard limit, or the old soft limit when raising
// failed; unlimited_descriptors for RLIM_INFINITY; 1024 (the usual soft limit,
// a guess on the safe side) when it cannot be read.
std::size_t raise_descriptor_limit();

}  // namespace rv
