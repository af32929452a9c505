/**
 * What the bridge tells journals, and in which words. Security Event Tokens (RFC 8417) carry one
 * event each, keyed by its type URI; a logout token (OpenID Connect Back-Channel Logout 1.0) carries
 * the back-channel logout event. No event holds a name, a SNILS or the ЕСИА subject: journal user
 * ids, organisation ids, codes and times only.
 */
export const LINK_CREATED = 'urn:esia-bridge:event:link-created'
export const LINK_REMOVED = 'urn:esia-bridge:event:link-removed'
export const LINK_MOVED = 'urn:esia-bridge:event:link-moved'
export const BACKCHANNEL_LOGOUT = 'http://schemas.openid.net/event/backchannel-logout'

/** RFC 8417 §2.3 explicit typing: a SET can never pass for an ID token, nor a logout token for either. */
export const SET_TYP = 'secevent+jwt'
export const LOGOUT_TOKEN_TYP = 'logout+jwt'
/** Back-Channel Logout 1.0 §2.4 recommends an `exp` at most two minutes after `iat`. */
export const LOGOUT_TOKEN_TTL_S = 120

/** Who ended a link, as `by` of link-removed tells the journal. */
export type LinkRemovedBy = 'person' | 'support' | 'journal' | 'replaced' | 'directory'
/**
 * Why, as a code (never support's free-text reason: it may name the person): `unlinked` — someone
 * removed the link; `replaced` — the card was linked to another Госуслуги account; `card_deleted` —
 * the card left the journal's directory.
 */
export type LinkRemovedReason = 'unlinked' | 'replaced' | 'card_deleted'

export interface LinkCreatedEvent {
  journal_user_id: string
  organization_id: string
  role: string
  method: 'link' | 'auto' | 'support_override' | 'support_move'
  trusted: boolean
}
export interface LinkRemovedEvent {
  journal_user_id: string
  organization_id: string
  by: LinkRemovedBy
  reason_code: LinkRemovedReason
}
export interface LinkMovedEvent {
  from_journal_user_id: string
  to_journal_user_id: string
}

/**
 * One event for the outbox; `at` (the change's time) is added by the database, from the transaction's
 * clock. It is delivered in order with the other events of its subject and, for a move, of the card
 * the link moved to (`orderedWith`).
 */
export type LinkEvent =
  | { type: typeof LINK_CREATED; subject: string; data: LinkCreatedEvent }
  | { type: typeof LINK_REMOVED; subject: string; data: LinkRemovedEvent }
  | { type: typeof LINK_MOVED; subject: string; orderedWith: [string]; data: LinkMovedEvent }
