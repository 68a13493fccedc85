// Quick Connect Chat browser client. Dependency-free ES module.
export { ChatClient } from './client.js';
export type { ChatClientOptions, ChatEvents, Fetcher, SocketFactory, SocketLike, Status } from './client.js';
export { systemClock } from './clock.js';
export type { Clock, TimerId } from './clock.js';
export { CloseCode, SUBPROTOCOL } from './protocol.js';
export type { Conversation, ErrorCode, Message, ServerFrame } from './protocol.js';
export { TypingDisplay, TypingSender } from './typing.js';
