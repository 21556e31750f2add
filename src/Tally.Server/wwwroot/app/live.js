// Live notifications over /ws?session=..., reconnecting after a drop with capped, jittered exponential backoff.
export class LiveConnection {
  constructor(token, { onNotification, onStatus, onOpen, onRefused }) {
    this.token = token;
    this.onNotification = onNotification;
    this.onStatus = onStatus;
    this.onOpen = onOpen;
    this.onRefused = onRefused;
    this.failures = 0;
    this.everOpened = false;
    this.stopped = false;
    this.socket = null;
    this.timer = null;
  }

  start() {
    this.connect();
    return this;
  }

  connect() {
    if (this.stopped) {
      return;
    }
    const url = new URL('/ws', window.location.href);
    url.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.hash = '';
    url.searchParams.set('session', this.token);
    this.onStatus(this.everOpened ? 'reconnecting' : 'connecting');
    const socket = new WebSocket(url);
    let opened = false;
    this.socket = socket;
    socket.addEventListener('open', () => {
      opened = true;
      this.everOpened = true;
      this.failures = 0;
      this.onStatus('live');
      this.onOpen();
    });
    socket.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame?.type === 'notification') {
        this.onNotification(frame);
      }
    });
    socket.addEventListener('close', () => {
      if (this.stopped || this.socket !== socket) {
        return;
      }
      if (!opened) {
        // The upgrade failed: the server is away, or it refused the session (401). The caller checks which.
        this.onRefused();
      }
      this.scheduleReconnect();
    });
  }

  scheduleReconnect() {
    if (this.stopped) {
      return;
    }
    const base = Math.min(10_000, 500 * 2 ** this.failures);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.failures += 1;
    this.onStatus('reconnecting');
    this.timer = window.setTimeout(() => this.connect(), delay);
  }

  stop() {
    this.stopped = true;
    window.clearTimeout(this.timer);
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) {
      this.socket.close(1000, 'leaving');
    }
  }
}
