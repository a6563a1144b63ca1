// hive::http_error — thrown by a handler or a filter to answer an error status with a message
// the client may read (unlike other exceptions, whose messages are logged, never sent; they
// answer 500):
//
//   if (!req.param("id")) throw hive::http_error(400, "a note id is required");
//
// The app's error handler (app::on_error) shapes the body; by default it is the message as text.
#pragma once

#include <stdexcept>
#include <string>

namespace hive {

class http_error : public std::runtime_error {
 public:
  // `status` 400..599; any other is answered as 500.
  http_error(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

}  // namespace hive
