// Counts `new T[n]` in this test program, so tests can assert that a buffer is reused (no
// allocation) or freed and made again. Every array allocation is counted, whoever makes it:
// read the count right around the calls under test.
#pragma once

#include <cstddef>

namespace hive::test {

std::size_t array_allocations();

}  // namespace hive::test
