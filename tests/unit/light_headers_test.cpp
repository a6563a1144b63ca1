// What the cluster's public headers cost their users to compile: they only name nlohmann::json
// (`const nlohmann::json&`), so the declarations are enough; the whole library comes with
// hive.hpp, where `res.json({{"id", 1}})` needs it. Built alone (not in a unity block): nothing
// else may include json.hpp into this file.
#include <hive/cluster.hpp>
#include <hive/worker.hpp>

#if defined(INCLUDE_NLOHMANN_JSON_HPP_)
#error "hive/cluster.hpp or hive/worker.hpp includes <nlohmann/json.hpp>: <nlohmann/json_fwd.hpp> is enough"
#endif

#include <doctest/doctest.h>

TEST_CASE("headers: cluster.hpp and worker.hpp build with nlohmann/json_fwd.hpp alone") {
  // Their declarations are usable as they stand.
  bool (*send)(const nlohmann::json&) = &hive::worker::send;
  const bool declared = send != nullptr;
  CHECK(declared);
  CHECK(!hive::worker::in_cluster());
}
