#include "net/server_core.hpp"

#include <malloc.h>

#include <system_error>

#include <algorithm>
#include <ctime>
#include <vector>

#include <asio/post.hpp>

#include "net/connection.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "net/listener.hpp"

namespace hive::detail {

namespace {
// How often a worker considers giving memory back: never more often, and never on the request
// path (malloc_trim walks the heap and advises the kernel page by page).
constexpr std::int64_t trim_check_ms = 3000;
// Idle buffers a pool may hold beyond two per connection of the last check's busiest moment.
constexpr std::size_t trim_slack = 8;
// Under a sustained attack the worker sheds again and again: one log line per this at most.
constexpr std::int64_t shed_log_ms = 10'000;
}  // namespace

server_core::server_core(asio::io_context& io, const app& a, const options& opts)
    : io_(io),
      app_(a),
      opts_(opts),
      trusted_(opts.trusted_proxies),
      dispatcher_(a, &own_stats_),
      budget_(opts.max_worker_input_bytes, opts.max_worker_output_bytes),
      date_(opts.server_name),
      timer_(io),
      poller_(io) {
  poller_.batch_hooks(&server_core::before_batch, &server_core::after_batch, this);
  cfg_.limits.max_request_line_bytes = opts.max_request_line_bytes;
  cfg_.limits.max_header_bytes = opts.max_header_bytes;
  cfg_.limits.max_header_count = opts.max_header_count;
  cfg_.limits.max_body_bytes = opts.max_body_bytes;
  cfg_.limits.max_route_body_bytes = a.max_route_body();
  cfg_.date = &date_;
  cfg_.now_ms = &now_ms_;
  dispatcher_.set_ops_paths(opts_, &draining_);
  cfg_.trusted_proxies = &trusted_;
  // The timer ticks often enough for the shortest timeout to be honoured within a quarter of it,
  // and at least once a second for the Date header. A cluster worker's heartbeat rides the tick,
  // so a short --heartbeat-timeout shortens it too.
  const auto shortest = std::min({opts.header_timeout, opts.body_timeout, opts.idle_timeout,
                                  opts.write_timeout, opts.heartbeat_timeout});
  tick_ms_ = std::clamp<std::int64_t>(shortest.count() / 4, 10, 1000);
  now_ms_ = monotonic_ms();
  next_trim_check_ms_ = now_ms_ + trim_check_ms;
}

server_core::~server_core() {
  stopped_ = true;
  flush_logs();
  drained_ = nullptr;
  while (head_ != nullptr) head_->abort();  // each moves itself to closed_
  for (connection* c : closed_) delete c;
}

// Before listening: a worker that cannot load its certificate must not accept plain
// connections on what should be an HTTPS port. The error reads like a bind error.
void server_core::load_tls() {
  if (!opts_.tls() && opts_.tls_key_file.empty()) return;
  if (ticket_keys_ == nullptr) {
    own_keys_.reset(ticket_keys::create());
    if (!own_keys_) {
      throw std::system_error(std::make_error_code(std::errc::not_enough_memory),
                              "hive: cannot make TLS session-ticket keys");
    }
    ticket_keys_ = own_keys_.get();
    next_rotation_ms_ = monotonic_ms() + opts_.tls_ticket_rotation.count();
  }
  std::string error;
  tls_ = tls_context::load(opts_, error, ticket_keys_);
  if (!tls_) throw std::system_error(std::make_error_code(std::errc::invalid_argument), "hive: " + error);
}

void server_core::start_listener(asio::ip::tcp::acceptor acceptor) {
  listener_ = std::make_unique<listener>(*this, std::move(acceptor));
  listener_->start();
  start_timer();
}

// Opened before listening, in the worker: each has its own descriptor (appending) and buffer.
void server_core::open_access_log() {
  if (opts_.access_log == options::access_log_format::off || log_) return;
  log_ = std::make_unique<access_log>(io_, opts_.access_log, opts_.access_log_file);
  dispatcher_.set_access_log(log_.get());
}

void server_core::reopen_logs() {
  if (log_) log_->reopen();
}

void server_core::flush_logs() {
  if (log_) log_->flush();
}

void server_core::listen() {
  open_access_log();
  load_tls();
  start_listener(bind_listener(io_, opts_.host, opts_.port, false));
}

void server_core::listen_on(int fd) {
  open_access_log();
  load_tls();
  asio::ip::tcp::acceptor acc(io_);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  acc.assign(ss.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), fd);
  tune_listener(fd);
  start_listener(std::move(acc));
}

std::uint16_t server_core::port() const { return listener_ ? listener_->port() : 0; }

void server_core::adopt(int fd, const address& peer) {
  // While draining (a cluster worker's drain window) a new connection is still answered, with
  // `Connection: close`: the session starts drained.
  auto* c = new connection(*this, fd, peer);
  c->next = head_;
  if (head_ != nullptr) head_->prev = c;
  head_ = c;
  ++count_;
  peak_count_ = std::max(peak_count_, count_);
  stats_->add(stats_->connections_open);
  stats_->add(stats_->connections_total);
  c->start();  // may close and remove it at once: do not touch `c` after this
}

void server_core::before_batch(void* self) {
  static_cast<server_core*>(self)->now_ms_ = monotonic_ms();
}

void server_core::after_batch(void* self) {
  auto* s = static_cast<server_core*>(self);
  if (s->shed_pending_) s->shed();
  s->free_closed();  // the shed ones too
}

void server_core::remove(connection* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (head_ == c) head_ = c->next;
  c->prev = c->next = nullptr;
  --count_;
  stats_->sub(stats_->connections_open);
  if (listener_) listener_->on_descriptor_freed();
  // Freed from the loop: `c` may be deep in its own call stack, or named again later in the
  // poller's current batch of events.
  // Inside the poller's dispatch they are freed after the batch, with no round trip.
  if (closed_.empty() && !stopped_ && !poller_.dispatching()) post_free();
  closed_.push_back(c);
  if (draining_ && count_ == 0 && drained_) {
    // Run it from the loop, not from inside a connection's call stack.
    asio::post(io_, [f = std::move(drained_)] { f(); });
    drained_ = nullptr;
  }
}

void server_core::post_free() {
  asio::post(io_, [this, alive = alive()] {
    if (!alive.expired()) free_closed();
  });
}

void server_core::free_closed() {
  // Compacted in place: the list keeps its capacity, so churn does not allocate it again.
  std::size_t kept = 0;
  for (connection* c : closed_) {
    if (c->freeable()) {
      delete c;
    } else {
      closed_[kept++] = c;  // a posted wake or an aborted wait runs first; freed on the next pass
    }
  }
  closed_.resize(kept);
  if (!closed_.empty()) post_free();
}

void server_core::start_timer() {
  timer_.expires_after(std::chrono::milliseconds(tick_ms_));
  // The token, not only `ec`: a completion already queued when the server is destroyed still runs.
  timer_.async_wait([this, alive = alive()](const asio::error_code& ec) {
    if (ec || alive.expired() || stopped_) return;
    tick();
    start_timer();
  });
}

void server_core::tick() {
  now_ms_ = monotonic_ms();
  date_.refresh(std::time(nullptr));
  for (connection* c = head_; c != nullptr;) {
    connection* next = c->next;  // `c` may remove itself
    c->check_deadline(now_ms_);
    c = next;
  }
  if (now_ms_ >= next_trim_check_ms_) maybe_trim();
  if (own_keys_ && now_ms_ >= next_rotation_ms_) {
    own_keys_->rotate();  // a failure keeps the keys: tried again next period
    next_rotation_ms_ = now_ms_ + opts_.tls_ticket_rotation.count();
  }
  if (tick_hook_) tick_hook_();
}

// After a flood the pools keep the buffers it needed and malloc keeps its peak: a worker that
// serves little afterwards would hold both for good. So, once per check: when nothing arrived
// since the last one (after traffic since the last trim), or when a pool holds far more idle
// buffers than the last check's busiest moment could use, the pools are emptied and malloc
// gives its free pages back. The next requests allocate their buffers again.
void server_core::maybe_trim() {
  next_trim_check_ms_ = now_ms_ + trim_check_ms;
  const std::uint64_t bytes_in = stats_->bytes_in.load(std::memory_order_relaxed);
  const bool quiet = bytes_in == bytes_in_at_check_;
  bytes_in_at_check_ = bytes_in;
  if (!quiet) active_since_trim_ = true;
  const std::size_t need = 2 * peak_count_ + trim_slack;
  const bool surplus = pool_.idle() > need || inputs_.idle() > need;
  peak_count_ = count_;
  if (!(quiet && active_since_trim_) && !surplus) return;
  active_since_trim_ = false;
  pool_.trim();
  inputs_.trim();
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

void server_core::schedule_shed() {
  shed_pending_ = true;
  // Never from inside the connection that reported: inside the poller's dispatch the batch's
  // end sheds; otherwise (a timer, a posted wake) the loop does, next.
  if (poller_.dispatching()) return;
  asio::post(io_, [this, alive = alive()] {
    if (!alive.expired() && shed_pending_) shed();
  });
}

// A worker over a budget closes the connections holding the most of it until it is back under
// 90 % of the budget. They are the clients that neither read their answers nor finish their
// requests: a legitimate client's holding comes and goes with its request.
void server_core::shed() {
  shed_pending_ = false;
  if (stopped_) return;
  const std::size_t n = shed_greediest(&held_bytes::output) + shed_greediest(&held_bytes::input);
  if (n == 0) return;
  stats_->add(stats_->connections_shed, n);
  shed_unlogged_ += n;
  if (now_ms_ < next_shed_log_ms_) return;
  next_shed_log_ms_ = now_ms_ + shed_log_ms;
  const auto mib = [](std::size_t b) { return b / (1024 * 1024); };
  warn("over a memory budget (--max-worker-input ", mib(budget_.max().input),
       " MiB, --max-worker-output ", mib(budget_.max().output), " MiB): closed ", shed_unlogged_,
       " connections holding the most; now ", mib(budget_.total().input), " MiB in, ",
       mib(budget_.total().output), " MiB out");
  shed_unlogged_ = 0;
}

// Sheds by one part (output or input) if its total is past its budget; returns how many closed.
std::size_t server_core::shed_greediest(std::size_t held_bytes::*part) {
  if (budget_.total().*part <= budget_.max().*part) return 0;
  std::vector<shed_candidate<connection>> all;
  for (connection* c = head_; c != nullptr; c = c->next) {
    if (c->held().*part != 0) all.push_back({c->held().*part, c});
  }
  std::reverse(all.begin(), all.end());  // the list is newest first
  const std::size_t k = pick_greediest(all, budget_.total().*part, budget_.target().*part);
  for (std::size_t i = 0; i < k; ++i) all[i].who->abort();  // each reports it holds nothing now
  return k;
}

void server_core::shutdown(std::function<void()> done, bool keep_accepting) {
  draining_ = true;
  drained_ = std::move(done);
  if (!keep_accepting && listener_) listener_->stop();
  for (connection* c = head_; c != nullptr;) {
    connection* next = c->next;
    c->drain();
    c = next;
  }
  if (count_ == 0 && drained_ && !keep_accepting) {
    asio::post(io_, [f = std::move(drained_)] { f(); });
    drained_ = nullptr;
  }
}

void server_core::close() {
  stopped_ = true;
  timer_.cancel();
  poller_.stop();
  if (listener_) listener_->stop();
  for (connection* c = head_; c != nullptr;) {
    connection* next = c->next;
    c->abort();
    c = next;
  }
}

}  // namespace hive::detail
