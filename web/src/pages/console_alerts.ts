// What the console says beyond the screen: a polite live region for new
// queue items, and optional alerts (a short WebAudio beep, and a desktop
// notification while the tab is in the background) for new chats and
// unread texts. Alerts are off until the agent turns them on; the
// notification permission is asked for only on that click.

import { el, isVisible } from './dom.js';
import { setAttr } from './keyed.js';

/** A polite live region: each line is added (so quick ones are all read)
 * and removed a little later. */
export class Announcer {
  constructor(
    private readonly region: HTMLElement,
    private readonly keepMs = 10_000,
  ) {}

  say(text: string): void {
    const line = el('p', {}, text);
    this.region.append(line);
    while (this.region.childElementCount > 3) this.region.firstElementChild?.remove();
    setTimeout(() => line.remove(), this.keepMs);
  }
}

const ALERTS_KEY = 'qc.agent.alerts';
/** At most one beep in this time. */
const BEEP_GAP_MS = 1_500;

type AudioContextClass = typeof AudioContext;

export class Alerts {
  private on: boolean;
  private audio: AudioContext | null = null;
  private lastBeep = 0;

  constructor(
    private readonly button: HTMLButtonElement,
    /** A notification was clicked: show that conversation (or the queue). */
    private readonly activate: (conversationId: string | null) => void,
    private readonly problem: (text: string) => void,
  ) {
    this.on = localStorage.getItem(ALERTS_KEY) === 'on';
    button.addEventListener('click', () => this.toggle());
    // Turned on in an earlier visit: audio may only start after a gesture.
    const wake = (): void => {
      if (this.on) this.audioContext();
    };
    document.addEventListener('pointerdown', wake, { once: true, capture: true });
    document.addEventListener('keydown', wake, { once: true, capture: true });
    this.render();
  }

  get enabled(): boolean {
    return this.on;
  }

  /** A customer is waiting in the queue. */
  newChat(body: string, conversationId: string): void {
    this.alert('New chat waiting', body, `queue-${conversationId}`, null);
  }

  /** A text the agent has not seen yet. */
  newMessage(title: string, body: string, conversationId: string): void {
    this.alert(title, body, `conversation-${conversationId}`, conversationId);
  }

  private toggle(): void {
    this.on = !this.on;
    localStorage.setItem(ALERTS_KEY, this.on ? 'on' : 'off');
    this.render();
    if (!this.on) return;
    // Both need this click: the audio context, and the permission prompt.
    this.audioContext();
    if (typeof Notification === 'undefined') return;
    if (Notification.permission === 'default') {
      Notification.requestPermission().then(
        (p) => {
          if (p === 'denied') this.problem('Desktop notifications are blocked: you will hear a beep only.');
        },
        () => {},
      );
    } else if (Notification.permission === 'denied') {
      this.problem('Desktop notifications are blocked in this browser: you will hear a beep only.');
    }
  }

  private render(): void {
    setAttr(this.button, 'aria-pressed', String(this.on));
    // For the eyes only (aria-hidden): the name stays "Alerts", aria-pressed tells.
    const state = this.button.querySelector('.state');
    if (state) state.textContent = this.on ? 'on' : 'off';
  }

  private alert(title: string, body: string, tag: string, conversationId: string | null): void {
    if (!this.on) return;
    this.beep();
    if (isVisible() && document.hasFocus()) return;
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    try {
      const n = new Notification(title, { body, tag });
      n.onclick = () => {
        window.focus();
        n.close();
        this.activate(conversationId);
      };
    } catch {
      // e.g. a browser that only notifies from a service worker: the beep is enough.
    }
  }

  private audioContext(): AudioContext | null {
    if (!this.audio) {
      const Ctor = (globalThis as { AudioContext?: AudioContextClass; webkitAudioContext?: AudioContextClass }).AudioContext ??
        (globalThis as { webkitAudioContext?: AudioContextClass }).webkitAudioContext;
      if (!Ctor) return null;
      try {
        this.audio = new Ctor();
      } catch {
        return null;
      }
    }
    if (this.audio.state === 'suspended') this.audio.resume().catch(() => {});
    return this.audio;
  }

  /** A short, soft two-tone beep; no audio file. */
  private beep(): void {
    const now = Date.now();
    if (now - this.lastBeep < BEEP_GAP_MS) return;
    this.lastBeep = now;
    const ctx = this.audio;
    if (!ctx) return; // never woken by a gesture in this visit yet
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t = ctx.currentTime;
    const gain = ctx.createGain();
    gain.connect(ctx.destination);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
    for (const [freq, start] of [
      [880, 0],
      [1175, 0.12],
    ] as const) {
      const osc = ctx.createOscillator();
      osc.type = 'sine';
      osc.frequency.setValueAtTime(freq, t + start);
      osc.connect(gain);
      osc.start(t + start);
      osc.stop(t + 0.3);
    }
  }
}
