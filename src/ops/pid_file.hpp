// --pid-file: this process's pid, written once it serves (every slot listening), for scripts and
// init systems that signal the server by pid file. On a binary upgrade the new primary writes it
// once ready, and the old one, on its way out, removes it only if it still names the old one.
#pragma once

#include <string>

namespace hive::detail {

// Writes "<pid>\n" to a temporary file beside `path` and renames it over `path`, so a reader
// never sees a half-written file. Logs a warning and returns false if that fails.
bool write_pid_file(const std::string& path);
// Removes `path` if it names this process (another process's pid file is left alone).
void remove_pid_file_if_ours(const std::string& path);

}  // namespace hive::detail
