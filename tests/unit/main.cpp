// The Boost.Test main of the unit tests; the cases live in the test_*.cpp files.
#define BOOST_TEST_MODULE rendezvous_unit
#include <boost/test/unit_test.hpp>
