// Test support: a replaced global operator new/delete whose allocations on one thread can be
// made to fail on demand, to drive the library's out-of-memory paths with a real allocation
// failure (nullptr from the nothrow forms, std::bad_alloc from the others).
//
// Replacement functions may be defined once per program: include this header in exactly one
// translation unit of a test binary (its other units see the replaced functions anyway).
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace sockpair::testing {

namespace detail {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the hook's state
inline thread_local long allocations_before_failure = -1;  // -1: never fail
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the hook's state
inline thread_local std::size_t failed_allocations = 0;

inline void* allocate_or_fail(std::size_t size) noexcept {
  if (allocations_before_failure == 0) {
    ++failed_allocations;
    return nullptr;
  }
  if (allocations_before_failure > 0) {
    --allocations_before_failure;
  }
  // NOLINTNEXTLINE(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory): the allocator
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace detail

/// While alive, every allocation on this thread after the first `succeeding` fails.
class failing_allocations {
 public:
  explicit failing_allocations(long succeeding = 0) {
    detail::allocations_before_failure = succeeding;
    detail::failed_allocations = 0;
  }
  ~failing_allocations() { detail::allocations_before_failure = -1; }
  failing_allocations(const failing_allocations&) = delete;
  failing_allocations& operator=(const failing_allocations&) = delete;
  failing_allocations(failing_allocations&&) = delete;
  failing_allocations& operator=(failing_allocations&&) = delete;

  /// Allocations refused so far: a test that expects ENOMEM checks that one really failed.
  [[nodiscard]] static std::size_t failed() { return detail::failed_allocations; }
};

}  // namespace sockpair::testing

// NOLINTBEGIN(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory,misc-new-delete-overloads,misc-definitions-in-headers)
void* operator new(std::size_t size) {
  if (void* p = sockpair::testing::detail::allocate_or_fail(size)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
  return sockpair::testing::detail::allocate_or_fail(size);
}
void* operator new[](std::size_t size, const std::nothrow_t& /*tag*/) noexcept {
  return sockpair::testing::detail::allocate_or_fail(size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t /*size*/) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t /*size*/) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t& /*tag*/) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t& /*tag*/) noexcept { std::free(p); }
// NOLINTEND(cppcoreguidelines-no-malloc,cppcoreguidelines-owning-memory,misc-new-delete-overloads,misc-definitions-in-headers)
