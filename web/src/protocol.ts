// Wire types of the Quick Connect Chat WebSocket protocol and HTTP API
// (docs/protocol.md, docs/http-api.md). The vocabulary (error codes, close
// codes, frame types) is generated from the server into ./wire.ts; the
// shapes built on it are here.

import type { ClientSubType, ErrorCode, MessageType, ServerSubType, SYSTEM_TYPE } from './wire.js';

export type { ClientSubType, CloseCode, CloseCodeName, ErrorCode, MessageType, ServerSubType } from './wire.js';

/** The stored message, as in a `text` or `note` frame's payload and in history. */
export interface Message {
  id: string;
  conversation_id: string;
  sender_id: string;
  message_type: MessageType;
  content: string;
  created_at: string;
  read_at: string | null;
  /** 1, 2, 3… per conversation, texts and notes alike: a customer sees gaps where notes are. */
  seq: number;
  client_msg_id: string | null;
}

/** A conversation as the caller sees it (`last_message` and `unread_count` are per caller). */
export interface Conversation {
  id: string;
  client_id: string;
  support_id: string | null;
  status: 'open' | 'closed';
  subject: string | null;
  created_at: string;
  closed_at: string | null;
  /** Customers: the latest text; agents: the latest text or note. */
  last_message: Message | null;
  /** Texts from the other side the caller has not marked read. */
  unread_count: number;
}

export type Side = 'customer' | 'agent';
export type PresenceStatus = 'online' | 'away' | 'offline';

export interface Presence {
  user_id: string;
  side: Side;
  status: PresenceStatus;
}

/** `conversation_assigned`: a claim (`previous_support_id` null), a transfer,
 * or a hand-back to the queue (`support_id` null). */
export interface Assignment {
  conversation_id: string;
  support_id: string | null;
  previous_support_id: string | null;
}

/** An entry of `GET /agents`. */
export interface Agent {
  id: string;
  status: PresenceStatus;
  open_conversations: number;
}

/** A page of a listing (`GET /conversations`, `GET …/messages`). */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

type System<S extends ServerSubType, P> = { type: typeof SYSTEM_TYPE; sub_type: S; timestamp: string; payload: P };

/** The payload of each `system` frame the server sends, by `sub_type`: one
 * entry per generated sub-type (a sub-type missing here does not compile). */
interface SystemPayloads {
  typing_started: { conversation_id: string; sender_id: string };
  typing_stopped: { conversation_id: string; sender_id: string };
  conversation_created: Conversation;
  conversation_assigned: Assignment;
  conversation_closed: { conversation_id: string; closed_by: string };
  presence: Presence;
  messages_read: { conversation_id: string; reader_id: string; up_to: string };
  error: { code: ErrorCode; message: string; conversation_id?: string };
}

/** Every frame the server sends: a `text` or `note` (`note` to agents only),
 * or a `system` frame. */
export type ServerFrame =
  | { [T in MessageType]: { type: T; sub_type: ''; timestamp: string; payload: Message } }[MessageType]
  | { [S in ServerSubType]: System<S, SystemPayloads[S]> }[ServerSubType];

/** Every frame a client sends (`note` from agents only). */
export type ClientFrame =
  | { type: MessageType; conversation_id: string; content: string; client_msg_id: string }
  | { type: typeof SYSTEM_TYPE; sub_type: ClientSubType; conversation_id: string };

/** The subprotocol offered beside `bearer.<jwt>`. */
export const SUBPROTOCOL = 'quickconnect.v1';
