// options::parse_known and from_args_known: hive's flags for hive, the rest for the application.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <hive/options.hpp>

namespace {

hive::options parse_known(std::initializer_list<const char*> args, std::vector<std::string>& rest) {
  std::vector<const char*> argv{"prog"};
  argv.insert(argv.end(), args.begin(), args.end());
  return hive::options::parse_known(static_cast<int>(argv.size()), argv.data(), rest);
}

struct exited {
  int status = -1;     // exit status, or -1 if killed
  std::string output;  // stdout and stderr together
};

// from_args_known exits on --help and bad values, so it runs in a child with its output piped.
exited in_child(std::initializer_list<const char*> args, std::string_view app_usage) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    std::vector<std::string> storage{"prog"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    std::vector<std::string> rest;
    const auto o = hive::options::from_args_known(static_cast<int>(argv.size()), argv.data(), rest,
                                                  app_usage);
    std::printf("port %u rest", static_cast<unsigned>(o.port));
    for (const auto& r : rest) std::printf(" [%s]", r.c_str());
    std::fflush(stdout);
    ::_exit(0);
  }
  ::close(fds[1]);
  exited e;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
    e.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) e.status = WEXITSTATUS(status);
  return e;
}

}  // namespace

TEST_CASE("options::parse_known: hive's flags are parsed, the rest kept in order") {
  std::vector<std::string> rest;
  const auto o = parse_known({"--db", "x.db", "--port", "8080", "in.txt", "--workers=0", "-v",
                              "--level=3", "--server-name", "app"},
                             rest);
  CHECK(o.port == 8080);
  CHECK(o.workers == 0);
  CHECK(o.server_name == "app");
  CHECK(rest == std::vector<std::string>{"--db", "x.db", "in.txt", "-v", "--level=3"});
}

TEST_CASE("options::parse_known: `--` ends hive's flags; it and everything after are kept") {
  std::vector<std::string> rest{"already"};  // appended to, not replaced
  const auto o = parse_known({"--port", "9000", "--", "--port", "1", "file"}, rest);
  CHECK(o.port == 9000);
  CHECK(rest == std::vector<std::string>{"already", "--", "--port", "1", "file"});
}

TEST_CASE("options::parse_known: hive's own flags are still checked; the environment still applies") {
  std::vector<std::string> rest;
  CHECK_THROWS_AS(parse_known({"--app", "--port", "70000"}, rest), std::invalid_argument);
  CHECK_THROWS_AS(parse_known({"--app", "--idle-timeout"}, rest), std::invalid_argument);  // no value
  ::setenv("HIVE_PORT", "7100", 1);
  rest.clear();
  const auto o = parse_known({"--app"}, rest);
  ::unsetenv("HIVE_PORT");
  CHECK(o.port == 7100);
  CHECK(rest == std::vector<std::string>{"--app"});
  // The strict parse still refuses what parse_known keeps.
  const char* argv[] = {"prog", "--app"};
  CHECK_THROWS_AS(hive::options::parse(2, argv), std::invalid_argument);
}

TEST_CASE("options::from_args_known: --help prints hive's usage then the application's, exits 0") {
  const auto e = in_child({"--db", "x", "--help"}, "App options:\n  --db PATH  the database\n");
  CHECK(e.status == 0);
  const auto hive_part = e.output.find("--max-body");
  const auto app_part = e.output.find("App options:");
  REQUIRE(hive_part != std::string::npos);
  REQUIRE(app_part != std::string::npos);
  CHECK(hive_part < app_part);
  CHECK(e.output.find(" rest") == std::string::npos);  // it exited before returning
}

TEST_CASE("options::from_args_known: unknown flags return, bad hive values exit 2, -- hides --help") {
  auto e = in_child({"--db", "x", "--port", "8081"}, {});
  CHECK(e.status == 0);
  CHECK(e.output == "port 8081 rest [--db] [x]");
  e = in_child({"--db", "x", "--port", "nope"}, {});
  CHECK(e.status == 2);
  CHECK(e.output.find("--port") != std::string::npos);
  e = in_child({"--", "--help"}, {});
  CHECK(e.status == 0);
  CHECK(e.output == "port 8000 rest [--] [--help]");
}
