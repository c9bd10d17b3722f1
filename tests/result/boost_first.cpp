// One of the two translation units of result_include_order_test: Boost.Outcome's own
// std_result.hpp is included BEFORE the library, as a program that also uses Outcome
// directly would. Built with -fno-exceptions: a failed access must behave exactly as in the
// other unit (library_first.cpp), and the program must link without defining
// boost::throw_exception.
#include <boost/outcome/std_result.hpp>

#include <socketpair/socketpair.hpp>

#include <system_error>

namespace order_test {

int value_of_failed_result_boost_first() {
  const sockpair::result<int> r{std::make_error_code(std::errc::connection_reset)};
  return r.value();
}

int value_of_failed_result_sockpair_errc_boost_first() {
  const sockpair::result<int> r{sockpair::errc::unexpected_eof};
  return r.value();
}

}  // namespace order_test
