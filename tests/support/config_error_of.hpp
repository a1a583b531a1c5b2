// Runs a callable and returns the rv::config_error message it throws, if any.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "rv/error.hpp"

namespace rv_test {

// The config_error message `f` throws, or nullopt when it throws nothing.
inline std::optional<std::string> config_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const rv::config_error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

}  // namespace rv_test
