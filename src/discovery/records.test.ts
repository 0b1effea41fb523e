import { test } from 'node:test';
import assert from 'node:assert/strict';
import { announcementRecords, asksForGrove, parseTxt, sightingsIn, instanceName, type Rec } from './records.js';
import { Sightings } from './nearby.js';

const ID = 'a'.repeat(52);
const OTHER = 'b'.repeat(52);

test('an announcement reads back as the same sighting', () => {
  const r = announcementRecords({ id: ID, port: 7420, name: '', addresses: ['10.1.2.3', '192.168.1.9'] });
  const s = sightingsIn([...r.answers, ...r.additionals], '10.9.9.9');
  assert.deepEqual(s, [{ id: ID, port: 7420, name: '', addresses: ['10.1.2.3', '192.168.1.9'] }]);
  assert.deepEqual(r.answers.find((x) => x.type === 'TXT')!.data, ['v=1', `id=${ID}`, 'port=7420'], 'no name unless configured');
});

test('without A records the responder address is used', () => {
  const r = announcementRecords({ id: ID, port: 9, name: 'nas', addresses: [] });
  assert.deepEqual(sightingsIn(r.answers, '10.0.0.7'), [{ id: ID, port: 9, name: 'nas', addresses: ['10.0.0.7'] }]);
});

test('malformed or foreign records are ignored', () => {
  const txt = (name: string, data: unknown): Rec => ({ name, type: 'TXT', data });
  const bad: Rec[] = [
    txt(instanceName(ID), ['v=2', `id=${ID}`, 'port=1']),
    txt(instanceName(ID), ['v=1', 'id=not-a-cell', 'port=1']),
    txt(instanceName(ID), ['v=1', `id=${OTHER}`, 'port=1']), // id does not match the instance name
    txt(instanceName(ID), ['v=1', `id=${ID}`, 'port=70000']),
    txt(instanceName(ID), ['v=1', `id=${ID}`, 'port=']),
    txt(`${ID}._http._tcp.local`, ['v=1', `id=${ID}`, 'port=1']),
    txt(instanceName(ID), [Buffer.alloc(300, 65)]),
    txt(instanceName(ID), 42),
  ];
  for (const r of bad) assert.deepEqual(sightingsIn([r], '10.0.0.1'), [], JSON.stringify(r.data));
  assert.deepEqual(sightingsIn([txt(instanceName(ID), ['v=1', `id=${ID}`, 'port=1'])], 'fe80::1'), [], 'no usable address');
  assert.equal(parseTxt([Buffer.from('v=1'), Buffer.from('v=2')])!.get('v'), '1', 'first occurrence wins');
});

test('queries for the service are recognized', () => {
  assert.equal(asksForGrove([{ name: '_grove._tcp.local', type: 'PTR' }]), true);
  assert.equal(asksForGrove([{ name: '_http._tcp.local', type: 'PTR' }]), false);
});

test('sightings expire after the TTL and are bounded', () => {
  const s = new Sightings(90_000, 2);
  s.see({ id: ID, port: 1, name: '', addresses: ['10.0.0.1'] }, 0);
  s.see({ id: OTHER, port: 1, name: '', addresses: ['10.0.0.2'] }, 50_000);
  assert.deepEqual(s.list(90_000).map((x) => x.id), [ID, OTHER]);
  assert.deepEqual(s.list(90_001).map((x) => x.id), [OTHER]);
  s.see({ id: ID, port: 1, name: '', addresses: ['10.0.0.1'] }, 90_002);
  s.see({ id: 'c'.repeat(52), port: 1, name: '', addresses: ['10.0.0.3'] }, 90_003);
  assert.deepEqual(s.list(90_004).map((x) => x.id), [ID, 'c'.repeat(52)], 'the longest unseen goes first');
});
