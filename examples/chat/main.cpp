// WebSocket chat across a cluster: `chat --port P --workers N`.
//   GET /       a small chat page
//   /ws/echo    every message back to its sender, unchanged (text stays text, binary binary)
//   /ws/chat    every text message to the topic `chat`, which every /ws/chat client follows on
//               every worker: clients of different workers see each other's messages
// g++ 12 warns when a designated initializer leaves out members, which is how a behaviour is
// meant to be written (fixed in g++ 14).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include <hive/hive.hpp>

namespace {

constexpr std::string_view page = R"(<!doctype html>
<meta charset="utf-8"><title>hive chat</title>
<style>body{font:16px sans-serif;max-width:40em;margin:2em auto}#log{height:20em;overflow:auto;border:1px solid #ccc;padding:.5em}</style>
<h1>hive chat</h1>
<div id="log"></div>
<form id="f"><input id="m" autocomplete="off" size="50" autofocus> <button>Send</button></form>
<script>
const log = document.getElementById('log');
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/chat');
const line = (t) => { const p = document.createElement('div'); p.textContent = t; log.appendChild(p); log.scrollTop = log.scrollHeight; };
ws.onopen = () => line('(connected)');
ws.onclose = (e) => line('(closed ' + e.code + ')');
ws.onmessage = (e) => line(e.data);
document.getElementById('f').onsubmit = (e) => {
  e.preventDefault();
  const m = document.getElementById('m');
  if (m.value) ws.send(m.value);
  m.value = '';
};
</script>
)";

}  // namespace

int main(int argc, char** argv) {
  hive::app app;
  app.get("/", [](const hive::request&, hive::response& res) { res.body(page, "text/html; charset=utf-8"); });

  // permessage-deflate when the client offers it (browsers, Python's websockets, Node's ws do).
  hive::ws_settings echo_settings;
  echo_settings.deflate = true;
  app.ws("/ws/echo", {
      .settings = echo_settings,
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view msg, hive::ws_opcode op) {
        ws.send(msg, op);
      },
  });

  // Every chat message goes to every client alike: without context takeover it is compressed
  // once per worker, not once per client, and no client holds a zlib stream.
  hive::ws_settings chat_settings = echo_settings;
  chat_settings.deflate_context_takeover = false;
  app.ws("/ws/chat", {
      .settings = chat_settings,
      .open = [](hive::websocket<hive::ws_no_data>& ws) { ws.subscribe("chat"); },
      .message = [](hive::websocket<hive::ws_no_data>& ws, std::string_view msg, hive::ws_opcode op) {
        if (op == hive::ws_opcode::text) ws.publish("chat", msg);
      },
  });

  return hive::run(app, hive::options::from_args(argc, argv));
}
