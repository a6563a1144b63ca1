// A protocol that answers every byte with itself, upper-cased: what a WebSocket is to the HTTP
// session — something that takes the connection, and the bytes that came with the request, after
// a 101. Small enough that a test can see every byte went where it should.
#pragma once

#include <cctype>
#include <cstddef>
#include <span>

#include "net/protocol.hpp"

namespace hive::test {

class shout final : public detail::protocol {
 public:
  std::span<char> prepare() override { return {buf_, sizeof buf_}; }
  void commit(std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) {
      buf_[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(buf_[i])));
    }
    out_.append({buf_, n});
  }
  void on_eof() override { eof_ = true; }
  void peer_gone() override {
    eof_ = true;
    ++gone;
  }
  detail::output_queue* output() override { return out_.empty() ? nullptr : &out_; }
  void consume(std::size_t n) override { out_.consume(n); }
  next step() const override { return eof_ ? next::close : next::read; }
  timer read_timer() const override { return timer::idle; }
  std::uint64_t progress() const override { return 0; }
  void timeout() override { eof_ = true; }
  void drain() override {}
  void release_if_idle() override {}
  detail::held_bytes held() const override { return {sizeof buf_, out_.arena_used()}; }

  int gone = 0;

 private:
  char buf_[64];
  detail::output_queue out_;
  bool eof_ = false;
};

}  // namespace hive::test
