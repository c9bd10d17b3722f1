// One of the two translation units of result_include_order_test: the library is included
// BEFORE Boost.Outcome's std_result.hpp. See boost_first.cpp.
#include <socketpair/socketpair.hpp>

#include <boost/outcome/std_result.hpp>

#include <system_error>

namespace order_test {

int value_of_failed_result_library_first() {
  const sockpair::result<int> r{std::make_error_code(std::errc::connection_reset)};
  return r.value();
}

}  // namespace order_test
