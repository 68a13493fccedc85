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
    region;
    keepMs;
    constructor(region, keepMs = 10_000) {
        this.region = region;
        this.keepMs = keepMs;
    }
    say(text) {
        const line = el('p', {}, text);
        this.region.append(line);
        while (this.region.childElementCount > 3)
            this.region.firstElementChild?.remove();
        setTimeout(() => line.remove(), this.keepMs);
    }
}
const ALERTS_KEY = 'qc.agent.alerts';
/** At most one beep in this time. */
const BEEP_GAP_MS = 1_500;
export class Alerts {
    button;
    activate;
    problem;
    on;
    audio = null;
    lastBeep = 0;
    constructor(button, 
    /** A notification was clicked: show that conversation (or the queue). */
    activate, problem) {
        this.button = button;
        this.activate = activate;
        this.problem = problem;
        this.on = localStorage.getItem(ALERTS_KEY) === 'on';
        button.addEventListener('click', () => this.toggle());
        // Turned on in an earlier visit: audio may only start after a gesture.
        const wake = () => {
            if (this.on)
                this.audioContext();
        };
        document.addEventListener('pointerdown', wake, { once: true, capture: true });
        document.addEventListener('keydown', wake, { once: true, capture: true });
        this.render();
    }
    get enabled() {
        return this.on;
    }
    /** A customer is waiting in the queue. */
    newChat(body, conversationId) {
        this.alert('New chat waiting', body, `queue-${conversationId}`, null);
    }
    /** A text the agent has not seen yet. */
    newMessage(title, body, conversationId) {
        this.alert(title, body, `conversation-${conversationId}`, conversationId);
    }
    toggle() {
        this.on = !this.on;
        localStorage.setItem(ALERTS_KEY, this.on ? 'on' : 'off');
        this.render();
        if (!this.on)
            return;
        // Both need this click: the audio context, and the permission prompt.
        this.audioContext();
        if (typeof Notification === 'undefined')
            return;
        if (Notification.permission === 'default') {
            Notification.requestPermission().then((p) => {
                if (p === 'denied')
                    this.problem('Desktop notifications are blocked: you will hear a beep only.');
            }, () => { });
        }
        else if (Notification.permission === 'denied') {
            this.problem('Desktop notifications are blocked in this browser: you will hear a beep only.');
        }
    }
    render() {
        setAttr(this.button, 'aria-pressed', String(this.on));
        // For the eyes only (aria-hidden): the name stays "Alerts", aria-pressed tells.
        const state = this.button.querySelector('.state');
        if (state)
            state.textContent = this.on ? 'on' : 'off';
    }
    alert(title, body, tag, conversationId) {
        if (!this.on)
            return;
        this.beep();
        if (isVisible() && document.hasFocus())
            return;
        if (typeof Notification === 'undefined' || Notification.permission !== 'granted')
            return;
        try {
            const n = new Notification(title, { body, tag });
            n.onclick = () => {
                window.focus();
                n.close();
                this.activate(conversationId);
            };
        }
        catch {
            // e.g. a browser that only notifies from a service worker: the beep is enough.
        }
    }
    audioContext() {
        if (!this.audio) {
            const Ctor = globalThis.AudioContext ??
                globalThis.webkitAudioContext;
            if (!Ctor)
                return null;
            try {
                this.audio = new Ctor();
            }
            catch {
                return null;
            }
        }
        if (this.audio.state === 'suspended')
            this.audio.resume().catch(() => { });
        return this.audio;
    }
    /** A short, soft two-tone beep; no audio file. */
    beep() {
        const now = Date.now();
        if (now - this.lastBeep < BEEP_GAP_MS)
            return;
        this.lastBeep = now;
        const ctx = this.audio;
        if (!ctx)
            return; // never woken by a gesture in this visit yet
        if (ctx.state === 'suspended')
            ctx.resume().catch(() => { });
        const t = ctx.currentTime;
        const gain = ctx.createGain();
        gain.connect(ctx.destination);
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
        for (const [freq, start] of [
            [880, 0],
            [1175, 0.12],
        ]) {
            const osc = ctx.createOscillator();
            osc.type = 'sine';
            osc.frequency.setValueAtTime(freq, t + start);
            osc.connect(gain);
            osc.start(t + start);
            osc.stop(t + 0.3);
        }
    }
}
