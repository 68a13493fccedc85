// Quick Connect Chat browser client. Dependency-free ES module.
export { Api, ApiError } from './api.js';
export type { ApiOptions, FetchInit, HistoryQuery, ListQuery, TokenSource } from './api.js';
export { ChatClient, MAX_CONTENT_CHARS, SessionExpiredError, invalidContent } from './client.js';
export type { ChatClientOptions, ChatEvents, FailReason, Fetcher, Outgoing, OutgoingState, SocketFactory, SocketLike, Status, TokenRequest } from './client.js';
export { systemClock } from './clock.js';
export type { Clock, TimerId } from './clock.js';
export { Desk } from './desk.js';
export type { DeskEffect, DeskEvent, DeskSnapshot } from './desk.js';
export { SUBPROTOCOL } from './protocol.js';
export type {
  Agent,
  Assignment,
  ClientFrame,
  Conversation,
  ErrorCode,
  Message,
  MessageType,
  Page,
  Presence,
  PresenceStatus,
  ServerFrame,
  Side,
} from './protocol.js';
export { Timeline } from './timeline.js';
export { TypingDisplay, TypingSender } from './typing.js';
export { CLIENT_SUB_TYPES, CLOSE_CODES, ERROR_CODES, MESSAGE_TYPES, SERVER_SUB_TYPES, SYSTEM_TYPE } from './wire.js';
export type { ClientSubType, CloseCode, CloseCodeName, ServerSubType } from './wire.js';
