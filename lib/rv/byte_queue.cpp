#include "rv/byte_queue.hpp"

#include <algorithm>
#include <cstring>

namespace rv {

std::span<char> byte_queue::prepare(std::size_t want) {
  if (capacity_ - end_ < want) {
    const std::size_t held = size();
    if (capacity_ - held >= want) {
      std::memmove(block_.get(), data(), held);  // a partial record at most: cheap
    } else {
      // Half as large again at least: records appended one by one to a queue
      // that is still growing must not each copy everything before them.
      const std::size_t size = std::max(held + want, capacity_ + capacity_ / 2);
      auto bigger = std::make_unique_for_overwrite<char[]>(size);
      if (held) std::memcpy(bigger.get(), data(), held);
      block_ = std::move(bigger);
      capacity_ = size;
    }
    begin_ = 0;
    end_ = held;
  }
  return {block_.get() + end_, capacity_ - end_};
}

void byte_queue::consume(std::size_t n) {
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
}

void byte_queue::append(const char* p, std::size_t n) {
  std::memcpy(prepare(n).data(), p, n);
  commit(n);
}

bool byte_queue::release() {
  if (!empty() || !block_) return false;
  block_.reset();
  capacity_ = begin_ = end_ = 0;
  return true;
}

}  // namespace rv
