// A media worker written against the reference JavaScript client: streams a few fragments
// through echosts and prints what it saw as one JSON object on stdout.
//   node worker.mjs stream <url> <path> <namespace> <stream_id> [token]
//   node worker.mjs refused <url> <path> <namespace> <stream_id> [token]
import { io } from "socket.io-client";

const [mode, url, path, namespace, streamId, token] = process.argv.slice(2);
const seen = { events: [], processed: [], complete: null, error: null, reason: null };
const socket = io(url + (namespace === "/" ? "" : namespace), {
  path,
  transports: ["websocket"],
  reconnection: false,
  auth: token ? { token } : {},
  extraHeaders: { "X-Stream-ID": streamId, "X-Worker-ID": "node-worker" },
});

const finish = (code) => {
  process.stdout.write(JSON.stringify(seen) + "\n");
  process.exit(code);
};
setTimeout(() => finish(3), 10000);

socket.onAny((event) => seen.events.push(event));
socket.on("connect_error", (err) => {
  seen.error = { message: err.message, data: err.data ?? null };
  finish(mode === "refused" ? 0 : 1);
});
socket.on("connect", () => {
  if (mode === "refused") finish(2);
  socket.emit("stream:init", { stream_id: streamId, worker_id: "node-worker", config: { channels: 2 } });
});
socket.on("stream:ready", () => {
  for (let seq = 0; seq < 3; seq++) {
    const audio = Buffer.from(`pcm-${seq}-`.repeat(100)).toString("base64");
    socket.emit("fragment:data", {
      fragment_id: `${streamId}-${seq}`,
      stream_id: streamId,
      sequence_number: seq,
      timestamp: Date.now(),
      audio: { format: "pcm_s16le", sample_rate_hz: 48000, channels: 2, duration_ms: 100, data_base64: audio },
    });
  }
});
socket.on("fragment:processed", (data) => {
  const sent = Buffer.from(`pcm-${data.sequence_number}-`.repeat(100)).toString("base64");
  seen.processed.push({
    sequence_number: data.sequence_number,
    status: data.status,
    identical: data.dubbed_audio.data_base64 === sent,
  });
  socket.emit("fragment:ack", { fragment_id: data.fragment_id, status: "applied", timestamp: Date.now() });
  if (seen.processed.length === 3) socket.emit("stream:end", { stream_id: streamId });
});
socket.on("stream:complete", (data) => {
  seen.complete = data;
});
socket.on("disconnect", (reason) => {
  seen.reason = reason;
  finish(0);
});
