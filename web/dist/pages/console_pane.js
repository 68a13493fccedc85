// The conversation pane's controls: the presence toggle, the transfer list,
// close, the customer's presence, and the composer's Reply / Note modes.
import { byId, el } from './dom.js';
import { setAttr, setText } from './keyed.js';
import { PRESENCE_TEXT, shortId } from './session.js';
/** The transfer target meaning "back to the queue". */
const TO_QUEUE = '__queue__';
export class Pane {
    ui = {
        presence: byId('presence-toggle', HTMLButtonElement),
        customerStatus: byId('customer-status', HTMLElement),
        transferForm: byId('transfer-form', HTMLFormElement),
        transferTo: byId('transfer-to', HTMLSelectElement),
        transfer: byId('transfer', HTMLButtonElement),
        close: byId('close', HTMLButtonElement),
        closed: byId('closed', HTMLElement),
        typing: byId('typing', HTMLElement),
        form: byId('send-form', HTMLFormElement),
        modeReply: byId('mode-reply', HTMLButtonElement),
        modeNote: byId('mode-note', HTMLButtonElement),
        inputLabel: byId('input-label', HTMLElement),
        input: byId('input', HTMLTextAreaElement),
        send: byId('send', HTMLButtonElement),
    };
    /** The colleagues the transfer list was last built from. */
    transferKey = null;
    current;
    wire(actions) {
        const ui = this.ui;
        ui.presence.addEventListener('click', () => actions.togglePresence());
        ui.transferForm.addEventListener('submit', (ev) => {
            ev.preventDefault();
            const choice = ui.transferTo.value;
            if (choice)
                actions.transfer(choice === TO_QUEUE ? null : choice);
        });
        ui.close.addEventListener('click', () => actions.close());
        ui.modeReply.addEventListener('click', () => actions.mode('reply'));
        ui.modeNote.addEventListener('click', () => actions.mode('note'));
    }
    render(desk, c) {
        this.current = c;
        this.renderTransfer(desk);
        const mine = desk.myStatus;
        const ui = this.ui;
        ui.presence.dataset.status = mine;
        setAttr(ui.presence, 'aria-pressed', String(mine === 'away'));
        setText(ui.presence, mine === 'away' ? 'Away: set online' : 'Online: set away');
        const status = c ? desk.customerStatus(c.client_id) : undefined;
        if (ui.customerStatus.hidden !== (status === undefined))
            ui.customerStatus.hidden = status === undefined;
        ui.customerStatus.dataset.status = status ?? '';
        setText(ui.customerStatus, status ? `Customer ${PRESENCE_TEXT[status].toLowerCase()}` : '');
    }
    /** The options are rebuilt only when the colleagues change, so an open
     * list is not pulled from under the agent's pointer. */
    renderTransfer(desk) {
        const ui = this.ui;
        const colleagues = desk.colleagues;
        const key = colleagues.map((a) => `${a.id}\u0000${a.status}\u0000${a.open_conversations}`).join('\u0001');
        if (key !== this.transferKey) {
            this.transferKey = key;
            const chosen = ui.transferTo.value;
            const options = [
                el('option', { value: '' }, 'Choose…'),
                el('option', { value: TO_QUEUE }, 'Back to the queue'),
                ...colleagues.map((a) => el('option', { value: a.id, 'data-status': a.status }, `${shortId(a.id)} (${PRESENCE_TEXT[a.status].toLowerCase()}, ${a.open_conversations} open)`)),
            ];
            ui.transferTo.replaceChildren(...options);
            // Keep the choice across changes (presence changes while choosing).
            if (options.some((o) => o.value === chosen))
                ui.transferTo.value = chosen;
        }
        const c = this.current;
        const usable = c !== undefined && c.status === 'open';
        ui.transferTo.disabled = !usable;
        ui.transfer.disabled = !usable;
    }
    presenceBusy(busy) {
        this.ui.presence.disabled = busy;
    }
    setMode(mode) {
        const ui = this.ui;
        const note = mode === 'note';
        ui.form.classList.toggle('note-mode', note);
        ui.form.dataset.mode = mode;
        ui.modeReply.setAttribute('aria-pressed', String(!note));
        ui.modeNote.setAttribute('aria-pressed', String(note));
        ui.inputLabel.textContent = note ? 'Internal note' : 'Reply';
        ui.input.placeholder = note ? 'Internal note: only agents see it…' : 'Type a reply…';
        ui.send.textContent = note ? 'Add note' : 'Send';
    }
    setClosed(closed) {
        const ui = this.ui;
        ui.closed.hidden = !closed;
        ui.input.disabled = closed;
        ui.send.disabled = closed;
        ui.close.disabled = closed;
        ui.modeReply.disabled = closed;
        ui.modeNote.disabled = closed;
        if (!closed)
            return; // reopened on screen: render() decides the transfer controls
        ui.typing.textContent = '';
        ui.transferTo.disabled = true;
        ui.transfer.disabled = true;
    }
}
