// The one Boost.Test main of every test executable (unit_tests, io_tests); the cases live in
// each tier's test_*.cpp files. Linked from rv_test_support: crt1's reference to `main` pulls
// this object out of the archive.
#define BOOST_TEST_MODULE rendezvous
#include <boost/test/unit_test.hpp>
