// A signaling capture at the server, run by natlab.mjs inside the lab's wan namespace (the test
// process itself has no route there): `node natlab_spy.mjs ws://198.18.0.1:8080/signal '["room"]'`
// subscribes to the topics, prints "subscribed" once the server has handled that (its pong),
// then one JSON line {"frame": "<text>"} per frame the server sends, until killed.

import { WebSocket } from 'ws';

const [url, topicsJson] = process.argv.slice(2);
const ws = new WebSocket(url);
let subscribed = false;
ws.on('open', () => {
  ws.send(JSON.stringify({ type: 'subscribe', topics: JSON.parse(topicsJson) }));
  // The server answers a ping only after it has handled the subscribe before it.
  ws.send(JSON.stringify({ type: 'ping' }));
});
ws.on('message', (data) => {
  const text = String(data);
  process.stdout.write(`${JSON.stringify({ frame: text })}\n`);
  if (!subscribed && text.includes('"pong"')) {
    subscribed = true;
    process.stdout.write('subscribed\n');
  }
});
ws.on('error', (err) => {
  process.stderr.write(`spy: ${err.message}\n`);
  process.exit(1);
});
ws.on('close', () => process.exit(0));
