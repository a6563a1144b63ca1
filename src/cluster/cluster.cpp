// hive::cluster and hive::run: the public face of the primary.
#include "hive/cluster.hpp"

#include "app/serve.hpp"
#include "cluster/primary.hpp"
#include "hive/server.hpp"

namespace hive {

bool worker_handle::send(const nlohmann::json& msg) { return primary_->send(*this, msg); }

cluster::cluster(const app& a, options opts)
    : primary_(std::make_unique<detail::primary>(a, std::move(opts))), app_(&a) {}
cluster::~cluster() = default;

cluster& cluster::on_fork(worker_event f) {
  primary_->hooks().fork.push_back(std::move(f));
  return *this;
}
cluster& cluster::on_online(worker_event f) {
  primary_->hooks().online.push_back(std::move(f));
  return *this;
}
cluster& cluster::on_listening(worker_event f) {
  primary_->hooks().listening.push_back(std::move(f));
  return *this;
}
cluster& cluster::on_disconnect(worker_event f) {
  primary_->hooks().disconnect.push_back(std::move(f));
  return *this;
}
cluster& cluster::on_exit(std::function<void(worker_handle&, exit_status)> f) {
  primary_->hooks().exit.push_back(std::move(f));
  return *this;
}
cluster& cluster::on_message(std::function<void(worker_handle&, const nlohmann::json&)> f) {
  primary_->hooks().message.push_back(std::move(f));
  return *this;
}
cluster& cluster::on_worker_start(std::function<void()> f) {
  primary_->hooks().worker.start.push_back(std::move(f));
  return *this;
}
cluster& cluster::on_worker_stop(std::function<void()> f) {
  primary_->hooks().worker.stop.push_back(std::move(f));
  return *this;
}

int cluster::run() {
  if (primary_->opts().workers == 0) {
    return detail::serve(*app_, primary_->opts(), primary_->hooks().worker);
  }
  return primary_->run();
}

cluster& cluster::on_request(std::function<void(worker_handle&, const nlohmann::json&, reply_fn)> f) {
  primary_->hooks().request = std::move(f);
  return *this;
}

asio::io_context& cluster::io() { return primary_->io(); }

void cluster::reload() { primary_->reload(); }
void cluster::stop() { primary_->stop(); }
void cluster::broadcast(const nlohmann::json& msg) { primary_->broadcast(msg); }
void cluster::publish(const std::string& topic, const nlohmann::json& msg) {
  primary_->publish(topic, msg);
}
std::vector<worker_handle*> cluster::workers() { return primary_->workers(); }
hive::stats cluster::stats() const { return primary_->stats(); }

int run(const app& a, const options& opts) {
  if (opts.workers == 0) return serve(a, opts);
  return cluster(a, opts).run();
}

}  // namespace hive
