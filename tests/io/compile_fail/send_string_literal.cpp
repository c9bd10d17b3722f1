// Must not compile: a string literal is a char array; sending it would send its NUL too.
#include <socketpair/socketpair.hpp>

void f(sockpair::socket<sockpair::stream>& s) { static_cast<void>(s.send("hello")); }
