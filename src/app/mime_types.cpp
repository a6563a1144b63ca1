#include "app/mime_types.hpp"

#include <fstream>
#include <sstream>
#include <unordered_map>

namespace hive::detail {

namespace {

// The web's common types, for a system without /etc/mime.types; also where ours differ from
// Debian's (.js is text/javascript per RFC 9239).
constexpr std::pair<const char*, const char*> fallback[] = {
    {"html", "text/html"}, {"htm", "text/html"}, {"css", "text/css"}, {"js", "text/javascript"},
    {"mjs", "text/javascript"}, {"json", "application/json"}, {"map", "application/json"},
    {"txt", "text/plain"}, {"csv", "text/csv"}, {"xml", "application/xml"}, {"svg", "image/svg+xml"},
    {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
    {"webp", "image/webp"}, {"avif", "image/avif"}, {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"}, {"otf", "font/otf"},
    {"wasm", "application/wasm"}, {"pdf", "application/pdf"}, {"zip", "application/zip"},
    {"gz", "application/gzip"}, {"mp4", "video/mp4"}, {"webm", "video/webm"}, {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"}, {"wav", "audio/wav"}, {"md", "text/markdown"}, {"webmanifest", "application/manifest+json"},
};

bool textual(const std::string& type) {
  return type.starts_with("text/") || type == "application/json" || type == "application/xml" ||
         type == "image/svg+xml" || type == "application/manifest+json" || type.ends_with("+json");
}

std::unordered_map<std::string, std::string> load() {
  std::unordered_map<std::string, std::string> types;
  std::ifstream in("/etc/mime.types");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string type, ext;
    words >> type;
    while (words >> ext) types[ext] = type;
  }
  for (const auto& [ext, type] : fallback) types[ext] = type;
  for (auto& [ext, type] : types) {
    if (textual(type)) type += "; charset=utf-8";
  }
  return types;
}

}  // namespace

const std::string& content_type_for(std::string_view file_name) {
  static const std::unordered_map<std::string, std::string> types = load();
  static const std::string octets = "application/octet-stream";
  const auto dot = file_name.rfind('.');
  const auto slash = file_name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return octets;
  std::string ext(file_name.substr(dot + 1));
  for (auto& c : ext) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  const auto it = types.find(ext);
  return it == types.end() ? octets : it->second;
}

}  // namespace hive::detail
