// Why a request was refused. Each code maps to the status RFC 9110/9112 prescribes; the session
// answers with it and closes the connection, because after a framing error the next request's
// first byte cannot be trusted.
#pragma once


namespace hive::detail {

enum class error {
  bad_request_line = 1,       // method, target or version not in the grammar: 400
  unknown_method,             // a well-formed method token hive does not know: 501
  bad_version,                // a version other than HTTP/1.0 and HTTP/1.1: 505
  bad_header,                 // a field that is not `token: value` (obs-fold, bare CR, NUL): 400
  bad_host,                   // HTTP/1.1 with no Host, or more than one: 400
  bad_content_length,         // not a number, a list that disagrees, or overflow: 400
  bad_transfer_encoding,      // chunked not last, chunked twice, TE with CL or in HTTP/1.0: 400
  unknown_transfer_encoding,  // a coding other than chunked: 501
  bad_chunk,                  // chunk size or framing out of the grammar: 400
  target_too_long,            // the request target passed max_request_line_bytes: 414
  header_too_large,           // the header section passed max_header_bytes: 431
  too_many_headers,           // more than max_header_count fields: 431
  body_too_large,             // the body passed max_body_bytes: 413
  expectation_failed,         // an Expect other than 100-continue: 417
  header_timeout,             // the header section did not arrive in time (slowloris): 408
  body_timeout,               // the body did not arrive in time: 408
};

// The status to answer with.
int status_of(error e);

}  // namespace hive::detail
