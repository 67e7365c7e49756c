import { ValidationError } from '../errors.js';

const USER = /^[1-9][0-9]{4,19}@s\.whatsapp\.net$/;
const GROUP = /^[0-9]{5,30}@g\.us$/;
const LEGACY_GROUP = /^[1-9][0-9]{4,19}-[0-9]{5,20}@g\.us$/;
const LID = /^[1-9][0-9]{4,19}@lid$/;
/** A bare phone number as people write it: optional +, ASCII digits, spaces and dashes. */
const PHONE = /^\+?[0-9][0-9 -]*$/;

/**
 * Validates and normalises a chat JID as GOWA does: full user, group (incl. legacy) and LID JIDs are
 * taken as given; a bare phone number becomes `<digits>@s.whatsapp.net`. Anything else — device
 * suffixes, other characters, too short or too long — is rejected, never cleaned into a number.
 */
export function parseChatJid(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 128) throw invalid();
  if (USER.test(raw) || GROUP.test(raw) || LEGACY_GROUP.test(raw) || LID.test(raw)) return raw;
  if (PHONE.test(raw)) {
    const digits = raw.replace(/[+ -]/g, '');
    const jid = `${digits}@s.whatsapp.net`;
    if (USER.test(jid)) return jid;
  }
  throw invalid();
}

const invalid = () => new ValidationError('chat_jid: invalid JID');
