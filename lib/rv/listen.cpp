// Listening sockets (listen.hpp).
#include "rv/listen.hpp"

#include <iostream>

#include "rv/error.hpp"

namespace rv {
namespace {

tcp::endpoint resolve_listen(asio::io_context& io, const endpoint_spec& spec) {
  error_code ec;
  auto addr = asio::ip::make_address(spec.host, ec);
  if (!ec) return {addr, spec.port};
  tcp::resolver resolver(io);
  auto results = resolver.resolve(spec.host, std::to_string(spec.port), ec);
  if (ec || results.empty())
    throw config_error("cannot resolve listen host '" + spec.host + "': " + ec.message());
  return results.begin()->endpoint();
}

}  // namespace

std::unique_ptr<tcp::acceptor> listen_on(asio::io_context& io, const endpoint_spec& spec) {
  auto ep = resolve_listen(io, spec);
  auto acceptor = std::make_unique<tcp::acceptor>(io);
  acceptor->open(ep.protocol());
  acceptor->set_option(asio::socket_base::reuse_address(true));
  if (ep.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true));
  error_code ec;
  acceptor->bind(ep, ec);
  if (ec) throw exit_error(exit_code::failure, "cannot listen on " + to_string(spec) + ": " + ec.message());
  acceptor->listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

std::string announce(const tcp::acceptor& acceptor, std::string_view what) {
  const auto bound = acceptor.local_endpoint();
  auto address = to_string(endpoint_spec{bound.address().to_string(), bound.port()});
  std::cout << what << ' ' << address << std::endl;
  return address;
}

}  // namespace rv
