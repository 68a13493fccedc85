// Wire types of the Quick Connect Chat WebSocket protocol and HTTP API
// (docs/protocol.md, docs/http-api.md).

/** `note`: an internal note, visible to agents only (never sent to a customer). */
export type MessageType = 'text' | 'note';

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

type System<S extends string, P> = { type: 'system'; sub_type: S; timestamp: string; payload: P };

/** Every frame the server sends. */
export type ServerFrame =
  | { type: 'text'; sub_type: ''; timestamp: string; payload: Message }
  | { type: 'note'; sub_type: ''; timestamp: string; payload: Message }
  | System<'typing_started' | 'typing_stopped', { conversation_id: string; sender_id: string }>
  | System<'conversation_created', Conversation>
  | System<'conversation_assigned', Assignment>
  | System<'conversation_closed', { conversation_id: string; closed_by: string }>
  | System<'presence', Presence>
  | System<'messages_read', { conversation_id: string; reader_id: string; up_to: string }>
  | System<'error', { code: ErrorCode; message: string; conversation_id?: string }>;

/** Every frame a client sends (`note` from agents only). */
export type ClientFrame =
  | { type: 'text' | 'note'; conversation_id: string; content: string; client_msg_id: string }
  | { type: 'system'; sub_type: 'typing_started' | 'typing_stopped'; conversation_id: string };

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_message'
  | 'invalid_content'
  | 'conversation_not_found'
  | 'conversation_closed'
  | 'unavailable'
  | 'rate_limited';

/** The subprotocol offered beside `bearer.<jwt>`. */
export const SUBPROTOCOL = 'quickconnect.v1';

/** Close codes (docs/protocol.md). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  Unsupported: 1003,
  Policy: 1008,
  TooBig: 1009,
  TokenExpired: 4001,
  SlowConsumer: 4002,
} as const;
