// The websocket session (docs/websocket.md): send commands, receive every server message.
// Replies carry `re` (our `id`), so request() can wait for the reply that ends a command.

const ENDS = new Set(["state", "error", "explore-started", "cancelling", "pong"]);

export class Session {
  /** @param {(msg: object) => void} onMessage  called for every server message, in order */
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.nextId = 1;
    this.waiting = new Map();
    this.queue = [];
    this.open = this.connect();
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${proto}//${location.host}/ws`);
    this.ws.addEventListener("message", (ev) => this.receive(JSON.parse(ev.data)));
    this.ws.addEventListener("close", () => {
      for (const [, w] of this.waiting) w.resolve({ type: "error", error: { code: "closed", message: "the connection to the server closed: reload the page" } });
      this.waiting.clear();
      this.onMessage({ type: "closed" });
    });
    return new Promise((resolve) => this.ws.addEventListener("open", resolve, { once: true }));
  }

  receive(msg) {
    this.onMessage(msg);
    // a message the server dropped (rate-limited) is answered without `re`: messages are handled
    // in order, so it is the oldest one still waiting; it ends with that error, not never
    if (msg.type === "error" && (msg.re === null || msg.re === undefined) && this.waiting.size) {
      const [id, w] = this.waiting.entries().next().value;
      this.waiting.delete(id);
      w.resolve(msg);
      return;
    }
    const w = this.waiting.get(msg.re);
    // a load or model switch ends with `model` when the model cannot step (no state follows)
    // ... and stopping a lesson with `lesson` (no scenario follows)
    if (w && (ENDS.has(msg.type) || (msg.type === "model" && !msg.stepping) || (msg.type === "lesson" && !msg.lesson))) {
      this.waiting.delete(msg.re);
      w.resolve(msg);
    }
  }

  /** Send a command; resolves with the message that ends it (a state, an error, ...). */
  async request(msg) {
    await this.open;
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }
}
