// Replaces the global array operator new for the unit-test program: it counts, then does what
// the default does (forward to operator new), so the default operator delete[] still matches.
#include "unit/array_allocations.hpp"

#include <atomic>
#include <new>

namespace {
std::atomic<std::size_t> count{0};
}  // namespace

void* operator new[](std::size_t n) {
  count.fetch_add(1, std::memory_order_relaxed);
  return ::operator new(n);
}

namespace hive::test {

std::size_t array_allocations() { return count.load(std::memory_order_relaxed); }

}  // namespace hive::test
