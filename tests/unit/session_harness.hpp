// Drives a sans-I/O session the way the Asio connection does, without a socket.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <hive/hive.hpp>

#include "http/date_cache.hpp"
#include "app/app_dispatcher.hpp"
#include "http/session.hpp"
#include "support/http_reader.hpp"
#include "unit/output_text.hpp"

namespace hive::test {

struct harness {
  explicit harness(const hive::app& a, detail::parser_limits limits = {}) : app_(a) {
    date.refresh(784111777);  // a fixed Date, so outputs compare byte for byte
    cfg.limits = limits;
    cfg.date = &date;
    s = std::make_unique<detail::session>(dispatch, cfg, pool, inputs);
  }

  // Feeds bytes and collects whatever the session wants written.
  void feed(std::string_view bytes) {
    s->feed(bytes);
    drain();
  }
  void drain() {
    while (take_output(*s, out) != 0) {
    }
  }
  read_result responses(const std::vector<bool>& head = {}) const { return read_responses(out, head); }

  const hive::app& app_;
  detail::app_dispatcher dispatch{app_, nullptr};
  detail::date_cache date{"hive"};
  detail::buffer_pool pool;
  detail::input_pool inputs;
  detail::session_config cfg;
  std::unique_ptr<detail::session> s;
  std::string out;
};

}  // namespace hive::test
