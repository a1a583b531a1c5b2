// The one place that names Asio pieces whose spelling changes between Boost
// versions (experimental awaitable operators, as_tuple): a Boost upgrade
// touches this file only.
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

namespace rv {
namespace asio = boost::asio;
using boost::system::error_code;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

// Completion tokens: `use_awaitable` throws, `nothrow` yields (error_code, ...).
inline constexpr auto use_awaitable = asio::use_awaitable;
inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

using steady_clock = std::chrono::steady_clock;
}  // namespace rv
