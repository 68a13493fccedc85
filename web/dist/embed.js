"use strict";
// The embeddable widget: one classic script tag on any site,
//
//   <script src="https://chat.example.com/assets/quickconnect/embed.js"
//           data-server="https://chat.example.com" data-token="getChatToken" async></script>
//
// shows a launcher button (bottom right, "Open chat") that opens the customer
// widget (`/?embed=1`) in a frame. With `data-token`, the host's global
// function of that name (returning the JWT, or a Promise of it) is called
// whenever the frame asks (when it loads, and when the token is refused),
// and its answer is posted to the frame, to the server's origin only; only
// messages from that frame and that origin are listened to. Without
// `data-token` the widget signs in as it does on its own page (dev mode).
//
// A classic script, not a module (no import, no export): it runs in the host
// page, so it keeps to itself (one closure), styles its two elements through
// the CSSOM (allowed under a strict style-src) and puts nothing in the host's
// page but them.
(() => {
    const KEY = '__quickconnectEmbed';
    const global = window;
    if (global[KEY])
        return; // loaded twice
    global[KEY] = true;
    const script = document.currentScript;
    if (!(script instanceof HTMLScriptElement)) {
        console.error('Quick Connect: embed.js must be loaded by a <script src> tag');
        return;
    }
    let base;
    try {
        base = new URL(script.dataset.server || new URL(script.src).origin, location.href);
    }
    catch {
        console.error('Quick Connect: data-server is not a URL');
        return;
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
        console.error('Quick Connect: data-server must be an http(s) URL');
        return;
    }
    if (!base.pathname.endsWith('/'))
        base.pathname += '/';
    const serverOrigin = base.origin;
    const widgetUrl = new URL('?embed=1', base).href;
    const tokenName = script.dataset.token?.trim() || null;
    const title = script.dataset.title?.trim() || 'Chat with support';
    /** The host's token function: a global, or a dotted path (`App.chatToken`). */
    function tokenFunction(name) {
        if (!/^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/.test(name))
            return null;
        let owner = undefined;
        let value = window;
        for (const part of name.split('.')) {
            if (value === null || (typeof value !== 'object' && typeof value !== 'function'))
                return null;
            owner = value;
            value = value[part];
        }
        return typeof value === 'function' ? () => value.call(owner) : null;
    }
    /** The host's token; null without `data-token`. */
    async function hostToken() {
        if (tokenName === null)
            return null;
        const fn = tokenFunction(tokenName);
        if (!fn)
            throw new Error(`data-token names no function: ${tokenName}`);
        const token = await fn();
        if (typeof token !== 'string' || token.trim() === '')
            throw new Error('the token function gave no token');
        return token.trim();
    }
    const SVG = 'http://www.w3.org/2000/svg';
    const BUBBLE = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z';
    const CROSS = 'M6 6l12 12M18 6L6 18';
    function icon() {
        const svg = document.createElementNS(SVG, 'svg');
        svg.setAttribute('viewBox', '0 0 24 24');
        svg.setAttribute('width', '26');
        svg.setAttribute('height', '26');
        svg.setAttribute('aria-hidden', 'true');
        svg.setAttribute('focusable', 'false');
        const path = document.createElementNS(SVG, 'path');
        path.setAttribute('fill', 'none');
        path.setAttribute('stroke', 'currentColor');
        path.setAttribute('stroke-width', '2');
        path.setAttribute('stroke-linecap', 'round');
        path.setAttribute('stroke-linejoin', 'round');
        path.setAttribute('d', BUBBLE);
        svg.append(path);
        return { svg, path };
    }
    const Z = '2147483000';
    const launcher = document.createElement('button');
    const { svg, path } = icon();
    launcher.type = 'button';
    launcher.id = 'quickconnect-launcher';
    launcher.dataset.testid = 'quickconnect-launcher';
    launcher.setAttribute('aria-label', 'Open chat');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-controls', 'quickconnect-frame');
    launcher.title = 'Open chat';
    launcher.append(svg);
    Object.assign(launcher.style, {
        position: 'fixed',
        right: '20px',
        bottom: '20px',
        width: '56px',
        height: '56px',
        padding: '0',
        margin: '0',
        border: '0',
        borderRadius: '50%',
        background: '#2457d6',
        color: '#fff',
        cursor: 'pointer',
        display: 'flex',
        alignItems: 'center',
        justifyContent: 'center',
        boxShadow: '0 4px 14px rgba(0, 0, 0, .25)',
        zIndex: Z,
    });
    let frame = null;
    let open = false;
    function makeFrame() {
        const f = document.createElement('iframe');
        f.id = 'quickconnect-frame';
        f.dataset.testid = 'quickconnect-frame';
        f.title = title;
        // The widget learns the host's origin from it (to answer only that).
        f.referrerPolicy = 'origin';
        f.src = widgetUrl;
        Object.assign(f.style, {
            position: 'fixed',
            right: '20px',
            bottom: '88px',
            width: 'min(380px, calc(100vw - 40px))',
            height: 'min(620px, calc(100vh - 108px))',
            border: '0',
            borderRadius: '12px',
            background: '#fff',
            boxShadow: '0 8px 30px rgba(0, 0, 0, .25)',
            display: 'none',
            zIndex: Z,
        });
        // Where supported, the phone's visible height (not the one behind its toolbars).
        f.style.height = 'min(620px, calc(100dvh - 108px))';
        if (!f.style.height)
            f.style.height = 'min(620px, calc(100vh - 108px))';
        document.body.append(f);
        return f;
    }
    function setOpen(next) {
        open = next;
        if (open && !frame)
            frame = makeFrame();
        if (frame)
            frame.style.display = open ? 'block' : 'none';
        const label = open ? 'Close chat' : 'Open chat';
        launcher.setAttribute('aria-label', label);
        launcher.title = label;
        launcher.setAttribute('aria-expanded', String(open));
        path.setAttribute('d', open ? CROSS : BUBBLE);
        if (open)
            frame?.focus();
    }
    function post(message) {
        frame?.contentWindow?.postMessage({ source: 'quickconnect', ...message }, serverOrigin);
    }
    window.addEventListener('message', (ev) => {
        if (!frame || ev.source !== frame.contentWindow || ev.origin !== serverOrigin)
            return;
        const data = ev.data;
        if (typeof data !== 'object' || data === null)
            return;
        const m = data;
        if (m.source !== 'quickconnect')
            return;
        if (m.type === 'ready' || m.type === 'token-request') {
            hostToken().then((token) => post({ type: 'token', token }), (e) => post({ type: 'token', token: null, error: e instanceof Error ? e.message : String(e) }));
        }
    });
    launcher.addEventListener('click', () => setOpen(!open));
    document.addEventListener('keydown', (ev) => {
        if (ev.key === 'Escape' && open) {
            setOpen(false);
            launcher.focus();
        }
    });
    const mount = () => document.body.append(launcher);
    if (document.body)
        mount();
    else
        document.addEventListener('DOMContentLoaded', mount, { once: true });
})();
