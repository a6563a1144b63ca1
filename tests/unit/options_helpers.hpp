// options::parse over a list of arguments, for the options tests (argv[0] is added).
#pragma once

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include <hive/options.hpp>

namespace hive::test {

inline hive::options parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"prog"};
  argv.insert(argv.end(), args.begin(), args.end());
  return hive::options::parse(static_cast<int>(argv.size()), argv.data());
}

// What parse throws, or "" if it accepts the arguments.
inline std::string parse_error(std::initializer_list<const char*> args) {
  try {
    parse(args);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace hive::test
