// A private (0700) directory for files made at test time, removed afterwards: the one every
// test tier uses (unit tests' files, the io tests' certificates).
#pragma once
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <boost/test/unit_test.hpp>

namespace rv_test {

struct temp_dir {
  std::filesystem::path path_;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rv-test-XXXXXX").string();
    BOOST_TEST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  // Writes `text` to a file in the directory and sets its mode.
  std::filesystem::path write(const std::string& name, const std::string& text, mode_t mode) const {
    auto file = path_ / name;
    std::ofstream(file) << text;
    BOOST_TEST_REQUIRE(::chmod(file.c_str(), mode) == 0);
    return file;
  }
};

}  // namespace rv_test
