// Quick Connect Chat browser client. Dependency-free ES module.
export { ChatClient } from './client.js';
export { systemClock } from './clock.js';
export { CloseCode, SUBPROTOCOL } from './protocol.js';
export { TypingDisplay, TypingSender } from './typing.js';
