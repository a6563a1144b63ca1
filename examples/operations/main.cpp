// hive as a good citizen of systemd, Kubernetes and Prometheus. Run it with the operations flags:
//
//   build/examples/operations/operations --metrics-path /metrics --health-path /healthz
//       --ready-path /readyz --log-format json      (one line)
//
// /metrics, /healthz and /readyz are then hive's own routes (no filter of this app runs on
// them). The same metrics are also mounted here behind a bearer token, at /admin/metrics, for
// when the metrics path must not be public: METRICS_TOKEN=s3cret, then
//   curl -H 'Authorization: Bearer s3cret' localhost:8000/admin/metrics
// Under systemd see deploy/hive.service and deploy/hive.socket; under Kubernetes,
// deploy/kubernetes.yaml.
//
// Signals to the primary: SIGHUP reloads the workers one slot at a time; SIGUSR2 upgrades the
// binary — copy a new build over the file (`install -m755 new-build PATH`), then
//   kill -USR2 $(cat /run/operations.pid)      (started with --pid-file /run/operations.pid)
// and the new build takes the listening sockets over while the old one drains (README, "Binary
// upgrade").
#include <cstdlib>
#include <string>

#include <hive/hive.hpp>

int main(int argc, char** argv) {
  hive::app app;
  app.get("/", [](const hive::request&, hive::response& res) { res.text("Hello, world!\n"); });

  const char* token = std::getenv("METRICS_TOKEN");
  const std::string expected = token != nullptr ? std::string("Bearer ") + token : std::string();
  auto admin = app.group("/admin");
  hive::filter auth;
  auth.before = [expected](const hive::request& req, hive::response& res) {
    if (!expected.empty() && req.header("Authorization") == expected) return hive::filter_result::next;
    res.status(401).header("WWW-Authenticate", "Bearer").text("who are you?\n");
    return hive::filter_result::answered;
  };
  admin.use(auth);
  admin.get("/metrics", hive::metrics_handler());

  return hive::run(app, hive::options::from_args(argc, argv));
}
