// Test support: EXPECT_CONTAINS(haystack, needle), a plain substring check
// that prints both on failure (gmock is not linked into the e2e tests).
#ifndef FOURTUPLE_TESTS_SUPPORT_EXPECT_CONTAINS_H_
#define FOURTUPLE_TESTS_SUPPORT_EXPECT_CONTAINS_H_

#include <string>

#include "gtest/gtest.h"

#define EXPECT_CONTAINS(haystack, needle)                          \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) \
      << "expected to find: " << (needle) << "\nin:\n"             \
      << (haystack)

#endif  // FOURTUPLE_TESTS_SUPPORT_EXPECT_CONTAINS_H_
