// Decoding content codings in the tests, with the libraries themselves (zlib, libbrotlidec,
// libzstd), independently of the coders under test.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hive::test {

// Whether this build can decode `coding` ("gzip", "br", "zstd").
bool can_decode(std::string_view coding);
// The decoded bytes, or nullopt if `bytes` is not valid `coding`. `whole`: the coding's end must
// be there; otherwise `bytes` may stop anywhere after a flush, and what it decodes to is returned.
std::optional<std::string> decode(std::string_view coding, std::string_view bytes, bool whole = true);

}  // namespace hive::test
