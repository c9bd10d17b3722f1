// Must not compile: the library needs C++20 and says so.
#include <socketpair/socketpair.hpp>
