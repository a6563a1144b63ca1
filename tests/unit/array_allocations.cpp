// Replaces the global array operator new and delete for the unit-test program: new[] counts, then
// both do what the defaults do (forward to operator new and delete). delete[] is replaced too so
// that AddressSanitizer sees every block freed the way it was allocated (operator new, operator
// delete); noinline keeps GCC from seeing a new[] freed by a plain delete where it inlines one.
#include "unit/array_allocations.hpp"

#include <atomic>
#include <new>

namespace {
std::atomic<std::size_t> count{0};
}  // namespace

[[gnu::noinline]] void* operator new[](std::size_t n) {
  count.fetch_add(1, std::memory_order_relaxed);
  return ::operator new(n);
}

[[gnu::noinline]] void operator delete[](void* p) noexcept { ::operator delete(p); }

[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept { ::operator delete(p); }

namespace hive::test {

std::size_t array_allocations() { return count.load(std::memory_order_relaxed); }

}  // namespace hive::test
