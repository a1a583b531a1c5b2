// A FIFO of bytes in one heap block that a stream fills at the back and
// drains at the front: ciphertext between the kernel and the TLS engine.
//
// It owns its block only while it holds bytes or is being filled: release()
// gives an empty queue's memory back, so an idle connection holds none.
#pragma once
#include <cstddef>
#include <memory>
#include <span>

namespace rv {

class byte_queue {
 public:
  const char* data() const { return block_.get() + begin_; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::size_t capacity() const { return capacity_; }

  // Free space at the back of at least `want` bytes (moving what is held to
  // the front, or growing the block).
  std::span<char> prepare(std::size_t want);
  void commit(std::size_t n) { end_ += n; }    // n <= prepare()'s size
  void consume(std::size_t n);                 // n <= size()
  void append(const char* p, std::size_t n);  // prepare + copy + commit
  void clear() { begin_ = end_ = 0; }
  // Frees the block when the queue is empty; returns whether it did.
  bool release();

 private:
  std::unique_ptr<char[]> block_;
  std::size_t capacity_ = 0, begin_ = 0, end_ = 0;
};

}  // namespace rv
