// A user's program, built outside hive's tree against an installed hive or hive as a meson
// subproject (see install_test.py): "Hello, world!" on every path.
#include <hive/hive.hpp>

// The Asio configuration hive was built with must reach its users' code (pkg-config's Cflags,
// CMake's imported target, hive_dep): code that includes Asio itself depends on it.
#if !defined(ASIO_STANDALONE) || !defined(ASIO_NO_DEPRECATED)
#error "hive's compile flags lack -DASIO_STANDALONE -DASIO_NO_DEPRECATED"
#endif

int main(int argc, char** argv) {
  hive::app app;
  app.get("/*", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
  return hive::run(app, hive::options::from_args(argc, argv));
}
