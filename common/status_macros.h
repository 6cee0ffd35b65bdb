// Local stand-ins for the status macros Debian's Abseil 20220623 lacks.
#ifndef FOURTUPLE_COMMON_STATUS_MACROS_H_
#define FOURTUPLE_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define FT_CONCAT_INNER_(a, b) a##b
#define FT_CONCAT_(a, b) FT_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status ft_status_ = (expr);      \
    if (!ft_status_.ok()) return ft_status_; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, Foo()) or ASSIGN_OR_RETURN(x, Foo()).
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL_(FT_CONCAT_(ft_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

#endif  // FOURTUPLE_COMMON_STATUS_MACROS_H_
