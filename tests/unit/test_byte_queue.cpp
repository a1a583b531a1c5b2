// byte_queue: the FIFO between a socket and the TLS engine. Bytes come out in
// the order they went in however the block moves or grows, and an empty
// queue gives its memory back.
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>

#include "rv/byte_queue.hpp"

namespace {
std::string contents(const rv::byte_queue& q) { return {q.data(), q.size()}; }
}  // namespace

BOOST_AUTO_TEST_SUITE(byte_queue)

BOOST_AUTO_TEST_CASE(fifo_across_compaction_and_growth) {
  rv::byte_queue q;
  std::string expected;
  // Records of uneven sizes in, smaller reads out: the front moves, the
  // block is compacted and grows, and the order holds throughout.
  unsigned char next = 0;
  for (int round = 0; round < 200; ++round) {
    std::string record(static_cast<std::size_t>(1 + (round * 7919) % 5000), '\0');
    for (auto& c : record) c = static_cast<char>(next++);
    q.append(record.data(), record.size());
    expected += record;
    std::size_t take = std::min<std::size_t>(q.size(), static_cast<std::size_t>(1 + (round * 104729) % 6000));
    BOOST_TEST_REQUIRE(std::memcmp(q.data(), expected.data(), take) == 0);
    q.consume(take);
    expected.erase(0, take);
    BOOST_TEST_REQUIRE(contents(q) == expected);
  }
  q.consume(q.size());
  BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(prepare_then_commit_a_partial_read) {
  rv::byte_queue q;
  auto space = q.prepare(100);
  BOOST_TEST(space.size() >= 100u);
  std::memcpy(space.data(), "hello", 5);
  q.commit(5);  // a read that returned less than it was given
  BOOST_TEST(contents(q) == "hello");
  q.append(" world", 6);
  BOOST_TEST(contents(q) == "hello world");
}

BOOST_AUTO_TEST_CASE(growth_is_geometric) {
  // Appending 16 KiB records one by one must not reallocate (and copy
  // everything) on every record.
  rv::byte_queue q;
  std::string record(16 * 1024, 'r');
  int growths = 0;
  std::size_t capacity = 0;
  for (int i = 0; i < 64; ++i) {
    q.append(record.data(), record.size());
    if (q.capacity() != capacity) ++growths;
    capacity = q.capacity();
  }
  BOOST_TEST(q.size() == 64u * record.size());
  BOOST_TEST(growths <= 12);
}

BOOST_AUTO_TEST_CASE(release_only_when_empty) {
  rv::byte_queue q;
  BOOST_TEST(!q.release());  // nothing to free
  q.append("abc", 3);
  BOOST_TEST(!q.release());  // holds bytes: kept
  BOOST_TEST(contents(q) == "abc");
  q.consume(3);
  BOOST_TEST(q.release());
  BOOST_TEST(q.capacity() == 0u);
  q.append("again", 5);  // usable after a release
  BOOST_TEST(contents(q) == "again");
}

BOOST_AUTO_TEST_SUITE_END()
