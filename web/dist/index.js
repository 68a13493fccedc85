// Quick Connect Chat browser client. Dependency-free ES module.
export { Api, ApiError } from './api.js';
export { ChatClient, MAX_CONTENT_CHARS, SessionExpiredError, invalidContent } from './client.js';
export { systemClock } from './clock.js';
export { Desk } from './desk.js';
export { SUBPROTOCOL } from './protocol.js';
export { Timeline } from './timeline.js';
export { TypingDisplay, TypingSender } from './typing.js';
export { CLIENT_SUB_TYPES, CLOSE_CODES, ERROR_CODES, MESSAGE_TYPES, SERVER_SUB_TYPES, SYSTEM_TYPE } from './wire.js';
