// The registry of metrics declared with hive::counter, gauge and histogram: what each is called
// and where its values are (shared memory), for metrics_text().
#pragma once

#include <string>

namespace hive::detail {

// Appends every declared metric's family in the text exposition format.
void render_user_metrics(std::string& out);

}  // namespace hive::detail
