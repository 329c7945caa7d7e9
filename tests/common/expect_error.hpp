// Test helper: a call must throw lstmrt::Error with a given code and a one-line message holding
// every expected fragment (the file, the option, the value, what was expected).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "lstmrt/error.hpp"

namespace lstmrt::test {

inline void expect_error(const std::function<void()>& fn, ErrorCode code, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "no error thrown; expected one containing '" << fragments.front() << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << "code " << to_string(e.code()) << ": " << e.what();
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    for (const std::string& f : fragments)
      EXPECT_NE(message.find(f), std::string::npos) << "'" << f << "' not in: " << message;
  }
}

}  // namespace lstmrt::test
