import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCells, pairCells } from '../helpers/cells.js';
import { runGrove } from '../helpers/ingest.js';
import { CLI_ENV } from '../helpers/cli.js';

// Terminal escapes from peers (src/cli/term.ts): a peer's name and messages are printed with
// their control characters escaped, never raw.

const EVIL_NAME = 'mallory\x1b]0;owned\x07\x1b[2J\u202eevil';
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/u;

test('peer names and chat text from a peer reach the terminal escaped', async (t) => {
  const [m, b] = await startCells(t, 2, { config: (i) => (i === 0 ? { name: EVIL_NAME } : {}) });
  await pairCells(b!, m!);
  await m!.cell.chat.send(b!.id, 'hi\x1b[31m red \x1b]8;;http://x\x07link\x1b]8;;\x07\nsecond line');

  const peers = await runGrove(b!.root, ['peers'], { env: CLI_ENV });
  assert.equal(peers.code, 0, peers.stderr);
  assert.doesNotMatch(peers.stdout, RAW_CONTROL);
  assert.ok(peers.stdout.includes('mallory\\x1b]0;owned\\x07\\x1b[2J\\u{202e}evil'), peers.stdout);

  const chat = await runGrove(b!.root, ['chat', m!.id], { env: CLI_ENV });
  assert.equal(chat.code, 0, chat.stderr);
  assert.doesNotMatch(chat.stdout, RAW_CONTROL);
  assert.ok(chat.stdout.includes('hi\\x1b[31m red'), chat.stdout);
  assert.ok(chat.stdout.includes('\nsecond line'), 'a message keeps its lines');

  // --json carries the exact text; JSON escapes the C0 controls (ESC, BEL) itself.
  const json = await runGrove(b!.root, ['--json', 'peers'], { env: CLI_ENV });
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(json.stdout.trimEnd(), /[\u0000-\u001f]/);
  const names = (JSON.parse(json.stdout) as { peers: { name: string }[] }).peers.map((p) => p.name);
  assert.deepEqual(names, [EVIL_NAME]);
});
