// Talking to Firefox over its WebChannel "account_updates" (accounts spec
// §3.1): requests as CustomEvents with a JSON string, answers as events
// carrying an object; one pending promise per messageId, each bounded.

const CHANNEL_ID = "account_updates";
const DEFAULT_TIMEOUT_MS = 30000;

export class ChannelError extends Error {}

export class FirefoxChannel {
  constructor() {
    this.pending = new Map();
    this.counter = 0;
    window.addEventListener("WebChannelMessageToContent", event => this.receive(event));
  }

  receive(event) {
    const detail = event.detail;
    if (!detail || detail.id !== CHANNEL_ID || !detail.message) {
      return;
    }
    const { messageId, data, error } = detail.message;
    if (error && messageId === undefined) {
      // {errno: 2, error: "No Such Channel"}: this origin is not Firefox's
      // accounts server; nothing we sent will be answered.
      for (const entry of this.pending.values()) {
        entry.reject(new ChannelError(`Firefox refused the message: ${error}`));
      }
      this.pending.clear();
      return;
    }
    const entry = this.pending.get(messageId);
    if (!entry) {
      return;
    }
    this.pending.delete(messageId);
    if (data && data.error) {
      entry.reject(new ChannelError(typeof data.error == "string" ? data.error : data.error.message));
    } else {
      entry.resolve(data);
    }
  }

  // Sends `command` and resolves with Firefox's reply data.
  send(command, data, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const messageId = `${Date.now()}-${++this.counter}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(messageId);
        reject(new ChannelError(`Firefox did not answer ${command} (open this page from Firefox's account menu)`));
      }, timeoutMs);
      this.pending.set(messageId, {
        resolve: value => { clearTimeout(timer); resolve(value); },
        reject: error => { clearTimeout(timer); reject(error); },
      });
      dispatch(command, data, messageId);
    });
  }

  // Sends `command` without waiting for an answer: Firefox's answer to
  // fxaccounts:delete and fxaccounts:logout never comes, because signing out
  // resets its accounts URLs and with them the channel of this origin
  // (FxAccountsConfig.resetConfigURLs).
  notify(command, data) {
    dispatch(command, data, `${Date.now()}-${++this.counter}`);
  }
}

function dispatch(command, data, messageId) {
  const detail = JSON.stringify({ id: CHANNEL_ID, message: { command, data, messageId } });
  window.dispatchEvent(new CustomEvent("WebChannelMessageToChrome", { detail }));
}
