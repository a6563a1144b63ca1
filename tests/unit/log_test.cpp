// util/log: every line hive writes starts "hive <pid>", built by one helper.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "util/log.hpp"

namespace log_test {

// Runs `f` with stderr sent to a pipe; returns what it wrote.
template <class F>
std::string stderr_of(F f) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(p[1], STDERR_FILENO);
  f();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(p[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  return out;
}

}  // namespace log_test

TEST_CASE("log: 'hive <pid> ' then the parts, integers formatted; warn sets itself apart with a colon") {
  const std::string pid = std::to_string(::getpid());
  const std::string who = "worker 101 (slot 0)";
  CHECK(log_test::stderr_of([&] { hive::detail::log("started ", who, " after ", 3u, ' ', -2L, " ms"); }) ==
        "hive " + pid + " started worker 101 (slot 0) after 3 -2 ms\n");
  CHECK(log_test::stderr_of([] { hive::detail::warn("dropped a ", std::size_t{70000}, "-byte message"); }) ==
        "hive " + pid + ": dropped a 70000-byte message\n");
  CHECK(log_test::stderr_of([] { hive::detail::log_line("hive: port 8000 is in use"); }) ==
        "hive: port 8000 is in use\n");
}
