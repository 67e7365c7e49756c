/** usync (contacts, LIDs, devices) and group (w:g2) queries answered from the registry. */
import { getBinaryNodeChild, getBinaryNodeChildren, type BinaryNode } from '@whiskeysockets/baileys';
import { pnJid, userOf, type AccountRecord, type GroupRecord, type Registry } from './registry.js';

const childTags = (node: BinaryNode | undefined) => (Array.isArray(node?.content) ? node.content.map(c => c.tag) : []);
const text = (node: BinaryNode | undefined) => (typeof node?.content === 'string' ? node.content : node?.content instanceof Uint8Array ? Buffer.from(node.content).toString() : undefined);

export class QueryError extends Error {
  constructor(readonly code: number, readonly text: string) { super(`${code} ${text}`) }
}

/** `<usync>` → `<usync>` with one `<user>` per queried user, each protocol answered from the registry. */
export function answerUsync(registry: Registry, usync: BinaryNode): BinaryNode {
  const protocols = childTags(getBinaryNodeChild(usync, 'query'));
  const users = getBinaryNodeChildren(getBinaryNodeChild(usync, 'list'), 'user').map(user => {
    const phone = text(getBinaryNodeChild(user, 'contact'));
    const jid = user.attrs.jid ?? (phone ? pnJid(phone) : undefined);
    if (!jid) throw new QueryError(400, 'bad-request');
    const lidUser = jid.endsWith('@lid') ? userOf(jid) : undefined;
    const account = lidUser ? registry.accountByLid(lidUser) : registry.accounts.get(userOf(jid));
    const phoneNumber = account?.phoneNumber ?? (lidUser ? [...registry.contacts].find(([, lid]) => lid === lidUser)?.[0] : userOf(jid));
    const registered = phoneNumber !== undefined && registry.contacts.has(phoneNumber);
    const content: BinaryNode[] = [];
    for (const protocol of protocols) {
      if (protocol === 'contact') content.push({ tag: 'contact', attrs: { type: registered ? 'in' : 'out' } });
      if (protocol === 'lid') {
        const lid = phoneNumber ? registry.contacts.get(phoneNumber) : undefined;
        content.push({ tag: 'lid', attrs: lid ? { val: `${lid}@lid` } : {} });
      }
      if (protocol === 'devices' && registered) content.push(deviceList(account));
    }
    return { tag: 'user', attrs: { jid: lidUser ? jid : pnJid(jid) }, content };
  });
  return { tag: 'usync', attrs: { ...usync.attrs, last: 'true', index: '0' }, content: [{ tag: 'list', attrs: {}, content: users }] };
}

function deviceList(account: AccountRecord | undefined): BinaryNode {
  const linked = account ? [...account.devices.values()].filter(device => !device.removed) : [];
  return {
    tag: 'devices',
    attrs: {},
    content: [{ tag: 'device-list', attrs: {}, content: [
      { tag: 'device', attrs: { id: '0' } },
      ...linked.map(device => ({ tag: 'device', attrs: { id: String(device.device), 'key-index': String(device.device) } })),
    ] }],
  };
}

export function groupNode(group: GroupRecord): BinaryNode {
  return {
    tag: 'group',
    attrs: {
      id: group.jid.split('@')[0],
      subject: group.subject,
      s_t: String(group.creation),
      s_o: group.creator,
      creation: String(group.creation),
      creator: group.creator,
      size: String(group.participants.length),
    },
    content: group.participants.map((jid): BinaryNode => ({ tag: 'participant', attrs: jid === group.creator ? { jid, type: 'superadmin' } : { jid } })),
  };
}

/** `<iq xmlns="w:g2" type="get" to="<group>"><query/>`: 404 when absent, 403 when the account is not a participant. */
export function answerGroupQuery(registry: Registry, account: AccountRecord, groupJid: string): BinaryNode {
  const group = registry.groups.get(groupJid);
  if (!group) throw new QueryError(404, 'item-not-found');
  if (!group.participants.includes(pnJid(account.phoneNumber))) throw new QueryError(403, 'forbidden');
  return groupNode(group);
}

/** `<participating>`: every group the account is in. */
export function answerParticipating(registry: Registry, account: AccountRecord): BinaryNode {
  const mine = [...registry.groups.values()].filter(group => group.participants.includes(pnJid(account.phoneNumber)));
  return { tag: 'groups', attrs: {}, content: mine.map(groupNode) };
}
