// Shared by the test pages: a client whose WebSocket records the frames it
// sends (window.__sent) and whose state history is kept (window.__states),
// so the browser test can check what went over the wire.
import { createClient } from "@brain/ws-client";

export function testClient() {
  const params = new URLSearchParams(location.search);
  const sent = [];
  class RecordingWebSocket extends WebSocket {
    send(data) {
      sent.push(data);
      super.send(data);
    }
  }
  const client = createClient({
    url: params.get("ws"),
    WebSocket: RecordingWebSocket,
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  window.__sent = sent;
  window.__client = client;
  // Attached right after createClient: the first state it sees is `connecting`.
  window.__states = [];
  client.on("state", (s) => window.__states.push(s));
  return client;
}
