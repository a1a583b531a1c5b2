// rvserver's registry: parking, taking with a grace period, limits, unparking.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "rvserver/registry.hpp"
#include "io_fixture.hpp"

using namespace rv_test;
using rvserver::parked_ptr;
using milliseconds = std::chrono::milliseconds;

namespace {

// A parked connection over a connected loopback socket. It never handshakes:
// the registry only holds it (and cancels its socket when it is taken).
parked_ptr make_parked(const asio::any_io_executor& ex, std::uint64_t id) {
  auto [hidden_end, server_end] = tcp_pair(ex);
  auto p = std::make_shared<rvserver::parked_conn>();
  p->stream = std::make_unique<rv::tls_stream>(std::move(server_end), leaf_server_context(),
                                               rv::tls_stream::role::server);
  p->id = id;
  p->peer = "127.0.0.1:" + std::to_string(hidden_end.local_endpoint().port());
  return p;
}

struct take_outcome {
  parked_ptr got;
  long long elapsed_ms = -1;
};

awaitable<void> timed_take(rvserver::registry& reg, const std::string& uuid, milliseconds grace, take_outcome& out) {
  const auto start = steady_clock::now();
  out.got = co_await reg.take(uuid, grace);
  out.elapsed_ms = ms_since(start);
}

awaitable<void> park_after(rvserver::registry& reg, const std::string& uuid, milliseconds delay, parked_ptr p) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(use_awaitable);
  auto evicted = reg.park(uuid, std::move(p));
  BOOST_TEST(!evicted);
}

const std::string uuid = "0b9f2d86-0c4c-4bde-9a43-2f1e4d1bd0a1";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(registry, io_fixture)

BOOST_AUTO_TEST_CASE(take_with_nothing_parked_returns_null_after_the_grace) {
  run([&]() -> awaitable<void> {
    rvserver::registry reg(4);
    take_outcome none_now, none_later;
    const milliseconds no_grace{0}, grace{100};
    co_await timed_take(reg, uuid, no_grace, none_now);
    co_await timed_take(reg, uuid, grace, none_later);
    BOOST_TEST(!none_now.got);
    BOOST_TEST(none_now.elapsed_ms < 50);
    BOOST_TEST(!none_later.got);
    BOOST_TEST(none_later.elapsed_ms >= 100);
    BOOST_TEST(none_later.elapsed_ms < 2000);
    BOOST_TEST(reg.parked(uuid) == 0u);
  });
}

// A client that arrives just before its hidden server registers is paired as
// soon as the registration lands, not when the grace ends.
BOOST_AUTO_TEST_CASE(a_park_during_the_grace_wakes_the_waiting_take) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    rvserver::registry reg(4);
    auto p = make_parked(ex, 1);
    take_outcome taken;
    const milliseconds grace{5000}, delay{50};
    co_await (timed_take(reg, uuid, grace, taken) && park_after(reg, uuid, delay, p));
    BOOST_TEST((taken.got == p));
    BOOST_TEST(p->taken());
    BOOST_TEST(taken.elapsed_ms >= 50);
    BOOST_TEST(taken.elapsed_ms < 1000, "woken after " << taken.elapsed_ms << " ms of a 5000 ms grace");
    BOOST_TEST(reg.parked(uuid) == 0u);
  });
}

BOOST_AUTO_TEST_CASE(two_waiters_and_one_park_one_gets_it_the_other_times_out) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    rvserver::registry reg(4);
    auto p = make_parked(ex, 1);
    take_outcome first, second;
    const milliseconds grace{300}, delay{50};
    co_await (timed_take(reg, uuid, grace, first) && timed_take(reg, uuid, grace, second) &&
              park_after(reg, uuid, delay, p));
    BOOST_TEST_REQUIRE(((first.got == p) != (second.got == p)), "exactly one waiter gets the parked connection");
    take_outcome* winner = &first;
    take_outcome* loser = &second;
    if (!first.got) std::swap(winner, loser);
    BOOST_TEST(!loser->got);
    BOOST_TEST(winner->elapsed_ms < 250, "the winner was woken after " << winner->elapsed_ms << " ms");
    BOOST_TEST(loser->elapsed_ms >= 300, "the loser waits out its own grace");
    BOOST_TEST(loser->elapsed_ms < 2000);
  });
}

// Over max_per_uuid the oldest goes: park gives it out for closing, marked
// taken like every connection the registry gives out (the hand-off rule in
// registry.hpp); take() hands out the newest first.
BOOST_AUTO_TEST_CASE(max_per_uuid_evicts_the_oldest) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    rvserver::registry reg(2);
    auto p1 = make_parked(ex, 1), p2 = make_parked(ex, 2), p3 = make_parked(ex, 3);
    BOOST_TEST(!reg.park(uuid, p1));
    BOOST_TEST(!reg.park(uuid, p2));
    auto evicted = reg.park(uuid, p3);
    BOOST_TEST((evicted == p1));
    BOOST_TEST(p1->taken());
    BOOST_TEST(reg.parked(uuid) == 2u);
    const milliseconds no_grace{0};
    std::vector<std::uint64_t> order;
    for (int i = 0; i < 3; ++i) {
      auto p = co_await reg.take(uuid, no_grace);
      order.push_back(p ? p->id : 0);
    }
    BOOST_TEST(order == (std::vector<std::uint64_t>{3, 2, 0}), boost::test_tools::per_element());
  });
}

BOOST_AUTO_TEST_CASE(unpark_removes_only_that_connection) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    rvserver::registry reg(4);
    auto p1 = make_parked(ex, 1), p2 = make_parked(ex, 2);
    const std::string other_uuid = "another-uuid";
    reg.park(uuid, p1);
    reg.park(uuid, p2);
    reg.unpark(uuid, p1);
    BOOST_TEST(reg.parked(uuid) == 1u);
    reg.unpark(uuid, p1);        // already gone: no effect
    reg.unpark(other_uuid, p2);  // not parked there: no effect
    BOOST_TEST(reg.parked(uuid) == 1u);
    BOOST_TEST(reg.parked(other_uuid) == 0u);
    const milliseconds no_grace{0};
    auto got = co_await reg.take(uuid, no_grace);
    BOOST_TEST((got == p2));
    auto none = co_await reg.take(uuid, no_grace);
    BOOST_TEST(!none);
    reg.unpark(uuid, p2);  // taken already: no effect
    BOOST_TEST(reg.parked(uuid) == 0u);
  });
}

// A registration for one UUID neither satisfies nor wakes a client of another.
BOOST_AUTO_TEST_CASE(uuids_do_not_mix) {
  run([&]() -> awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    rvserver::registry reg(4);
    auto p = make_parked(ex, 1);
    const std::string other_uuid = "another-uuid";
    take_outcome taken;
    const milliseconds grace{150}, delay{20};
    co_await (timed_take(reg, other_uuid, grace, taken) && park_after(reg, uuid, delay, p));
    BOOST_TEST(!taken.got);
    BOOST_TEST(taken.elapsed_ms >= 150);
    BOOST_TEST(reg.parked(uuid) == 1u);
    BOOST_TEST(!p->taken());
  });
}

BOOST_AUTO_TEST_SUITE_END()
