// The Boost.Test main of the io tests; the cases live in the test_*.cpp files.
#define BOOST_TEST_MODULE rendezvous_io
#include <boost/test/unit_test.hpp>
