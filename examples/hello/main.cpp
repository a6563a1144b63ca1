// The seed program: "Hello, world!" on port 8000 with one worker per CPU, and POST /echo sends
// the body back.
#include <hive/hive.hpp>

int main(int argc, char** argv) {
  hive::app app;
  app.post("/echo", [](const hive::request& req, hive::response& res) {
    res.body(req.body(), req.header("Content-Type").value_or("application/octet-stream"));
  });
  app.get("/*", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });
  return hive::run(app, hive::options::from_args(argc, argv));  // --workers 0: one process
}
