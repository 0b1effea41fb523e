import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  createCipheriv, createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman,
  sign, verify, type KeyObject,
} from 'node:crypto';
import canonicalizeImpl from 'canonicalize';
import { createGrant, verifyGrant, unwrapFileKey, type ShareGrant } from '../../src/formats/grant.js';
import { sealMessage, openMessage, type ChatEnvelope } from '../../src/formats/chat.js';
import { keyPairFromPem } from '../../src/crypto/keys.js';
import { refBase32 } from './golden-derive.js';

// Golden vectors for share grants and chat messages (docs/design.md §2, docs/formats.md). The first
// block of each suite re-derives every output from the fixture's inputs with plain node:crypto
// calls and the `canonicalize` package only, written from the spec, not from src/; the second
// checks that the module reproduces and accepts the fixture. The fixtures are never regenerated:
// a change that breaks them is a wire-format change.

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url), 'utf8'));

interface GrantVector {
  keys: Record<'creator_ed25519_pkcs8_pem' | 'recipient_ed25519_pkcs8_pem' | 'recipient_x25519_pkcs8_pem' | 'ephemeral_x25519_pkcs8_pem', string>;
  inputs: { file_key_hex: string; manifest_hash: string; filename: string; file_type: string; total_size: number; granted_at: number };
  intermediate: Record<'creator_id' | 'recipient_id' | 'recipient_x25519_public_hex' | 'ephemeral_public_hex' | 'shared_secret_hex'
    | 'hkdf_salt_hex' | 'wrap_key_hex' | 'nonce_hex' | 'aad_hex' | 'signed_canonical_json', string>;
  grant: ShareGrant;
}
interface ChatVector {
  keys: Record<'sender_ed25519_pkcs8_pem' | 'recipient_ed25519_pkcs8_pem' | 'recipient_x25519_pkcs8_pem' | 'ephemeral_x25519_pkcs8_pem', string>;
  inputs: { id: string; nonce_hex: string; text: string; sent_at: number; seq: number };
  intermediate: Record<'from_id' | 'to_id' | 'recipient_x25519_public_hex' | 'ephemeral_public_hex' | 'shared_secret_hex'
    | 'hkdf_salt_hex' | 'message_key_hex' | 'aad_hex' | 'signed_canonical_json', string>;
  envelope: ChatEnvelope;
}
const G = fixture('grant-vector.json') as GrantVector;
const C = fixture('chat-vector.json') as ChatVector;

// ---- Independent reference implementation (node:crypto + canonicalize only) ----

const canonicalize = canonicalizeImpl as unknown as (v: unknown) => string;

/** RFC 5869 HKDF-SHA256, 32-byte output (one expand block). */
function refHkdf32(ikm: Buffer, salt: Buffer, info: string): Buffer {
  const prk = createHmac('sha256', salt).update(ikm).digest();
  return createHmac('sha256', prk).update(Buffer.concat([Buffer.from(info, 'utf8'), Buffer.from([1])])).digest();
}


function refRawPublic(k: KeyObject): Buffer {
  const jwk = createPublicKey(k).export({ format: 'jwk' });
  return Buffer.from(jwk.x as string, 'base64url');
}

function refSeal(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plain.length });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

function refOpen(key: Buffer, nonce: Buffer, aad: Buffer, sealed: Buffer): Buffer {
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAAD(aad, { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

function u64be(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

describe('share grant vector', () => {
  test('reference implementation re-derives every value from docs/design.md §2', () => {
    const creator = createPrivateKey(G.keys.creator_ed25519_pkcs8_pem);
    const recipientEd = createPrivateKey(G.keys.recipient_ed25519_pkcs8_pem);
    const recipientX = createPrivateKey(G.keys.recipient_x25519_pkcs8_pem);
    const eph = createPrivateKey(G.keys.ephemeral_x25519_pkcs8_pem);
    const creatorRaw = refRawPublic(creator);
    const recipientEdRaw = refRawPublic(recipientEd);
    const recipientXRaw = refRawPublic(recipientX);
    const ephRaw = refRawPublic(eph);

    const creatorId = refBase32(creatorRaw);
    const recipientId = refBase32(recipientEdRaw);
    assert.equal(creatorId.length, 52);
    assert.equal(creatorId, G.intermediate.creator_id);
    assert.equal(recipientId, G.intermediate.recipient_id);
    assert.equal(recipientXRaw.toString('hex'), G.intermediate.recipient_x25519_public_hex);
    assert.equal(ephRaw.toString('hex'), G.intermediate.ephemeral_public_hex);

    const shared = diffieHellman({ privateKey: eph, publicKey: createPublicKey(recipientX) });
    assert.deepEqual(diffieHellman({ privateKey: recipientX, publicKey: createPublicKey(eph) }), shared);
    assert.equal(shared.toString('hex'), G.intermediate.shared_secret_hex);
    const salt = Buffer.concat([ephRaw, recipientXRaw]);
    assert.equal(salt.toString('hex'), G.intermediate.hkdf_salt_hex);
    const key = refHkdf32(shared, salt, 'grove-grant-v1');
    assert.equal(key.toString('hex'), G.intermediate.wrap_key_hex);

    const nonce = Buffer.alloc(12);
    assert.equal(nonce.toString('hex'), G.intermediate.nonce_hex);
    const aad = Buffer.concat([Buffer.from(G.inputs.manifest_hash, 'hex'), creatorRaw, recipientEdRaw]);
    assert.equal(aad.toString('hex'), G.intermediate.aad_hex);
    const fileKey = Buffer.from(G.inputs.file_key_hex, 'hex');
    const encryptedFileKey = Buffer.concat([ephRaw, refSeal(key, nonce, aad, fileKey)]).toString('base64');
    assert.equal(encryptedFileKey, G.grant.encrypted_file_key);
    assert.deepEqual(refOpen(key, nonce, aad, Buffer.from(encryptedFileKey, 'base64').subarray(32)), fileKey);

    const body = {
      manifest_hash: G.inputs.manifest_hash,
      encrypted_file_key: encryptedFileKey,
      creator_pubkey: creatorId,
      recipient_pubkey: recipientId,
      granted_at: G.inputs.granted_at,
      filename: G.inputs.filename,
      file_type: G.inputs.file_type,
      total_size: G.inputs.total_size,
    };
    const signed = canonicalize(body);
    assert.equal(signed, G.intermediate.signed_canonical_json);
    const signature = sign(null, Buffer.from(signed, 'utf8'), creator).toString('base64');
    assert.equal(signature, G.grant.signature, 'Ed25519 is deterministic');
    assert.ok(verify(null, Buffer.from(signed, 'utf8'), createPublicKey(creator), Buffer.from(signature, 'base64')));
    assert.deepEqual(G.grant, { ...body, signature });
  });

  test('the module reproduces the vector and accepts it', () => {
    const creator = keyPairFromPem(G.keys.creator_ed25519_pkcs8_pem);
    const recipientX = keyPairFromPem(G.keys.recipient_x25519_pkcs8_pem);
    const grant = createGrant({
      identity: creator, creatorId: G.intermediate.creator_id, recipientId: G.intermediate.recipient_id,
      recipientX25519Raw: recipientX.publicRaw, manifestHash: G.inputs.manifest_hash,
      fileKey: Buffer.from(G.inputs.file_key_hex, 'hex'), filename: G.inputs.filename, fileType: G.inputs.file_type,
      totalSize: G.inputs.total_size, grantedAt: G.inputs.granted_at,
      ephemeralPrivateKey: createPrivateKey(G.keys.ephemeral_x25519_pkcs8_pem),
    });
    assert.deepEqual(grant, G.grant);
    assert.deepEqual(verifyGrant(G.grant, G.intermediate.recipient_id), G.grant);
    assert.equal(unwrapFileKey(G.grant, recipientX.privateKey, recipientX.publicRaw).toString('hex'), G.inputs.file_key_hex);
  });
});

describe('chat message vector', () => {
  test('reference implementation re-derives every value from docs/design.md §2', () => {
    const sender = createPrivateKey(C.keys.sender_ed25519_pkcs8_pem);
    const recipientEd = createPrivateKey(C.keys.recipient_ed25519_pkcs8_pem);
    const recipientX = createPrivateKey(C.keys.recipient_x25519_pkcs8_pem);
    const eph = createPrivateKey(C.keys.ephemeral_x25519_pkcs8_pem);
    const senderRaw = refRawPublic(sender);
    const recipientEdRaw = refRawPublic(recipientEd);
    const recipientXRaw = refRawPublic(recipientX);
    const ephRaw = refRawPublic(eph);

    const fromId = refBase32(senderRaw);
    const toId = refBase32(recipientEdRaw);
    assert.equal(fromId, C.intermediate.from_id);
    assert.equal(toId, C.intermediate.to_id);
    assert.equal(recipientXRaw.toString('hex'), C.intermediate.recipient_x25519_public_hex);
    assert.equal(ephRaw.toString('hex'), C.intermediate.ephemeral_public_hex);

    const shared = diffieHellman({ privateKey: eph, publicKey: createPublicKey(recipientX) });
    assert.equal(shared.toString('hex'), C.intermediate.shared_secret_hex);
    const salt = Buffer.concat([ephRaw, recipientXRaw]);
    assert.equal(salt.toString('hex'), C.intermediate.hkdf_salt_hex);
    const key = refHkdf32(shared, salt, 'grove-chat-v1');
    assert.equal(key.toString('hex'), C.intermediate.message_key_hex);

    const id = Buffer.from(C.inputs.id, 'hex');
    const aad = Buffer.concat([Buffer.from([1]), senderRaw, recipientEdRaw, id, u64be(C.inputs.sent_at), u64be(C.inputs.seq)]);
    assert.equal(aad.length, 97);
    assert.equal(aad.toString('hex'), C.intermediate.aad_hex);
    const nonce = Buffer.from(C.inputs.nonce_hex, 'hex');
    const text = Buffer.from(C.inputs.text, 'utf8');
    const ciphertext = refSeal(key, nonce, aad, text).toString('base64');
    assert.equal(ciphertext, C.envelope.ciphertext);
    assert.equal(refOpen(key, nonce, aad, Buffer.from(ciphertext, 'base64')).toString('utf8'), C.inputs.text);

    const body = {
      v: 1, id: C.inputs.id, from: fromId, to: toId, sent_at: C.inputs.sent_at, seq: C.inputs.seq,
      eph: ephRaw.toString('base64'), nonce: nonce.toString('base64'), ciphertext,
    };
    const signed = canonicalize(body);
    assert.equal(signed, C.intermediate.signed_canonical_json);
    const signature = sign(null, Buffer.from(signed, 'utf8'), sender).toString('base64');
    assert.equal(signature, C.envelope.signature, 'Ed25519 is deterministic');
    assert.deepEqual(C.envelope, { ...body, signature });
  });

  test('the module reproduces the vector and opens it', () => {
    const sender = keyPairFromPem(C.keys.sender_ed25519_pkcs8_pem);
    const recipientX = keyPairFromPem(C.keys.recipient_x25519_pkcs8_pem);
    const envelope = sealMessage({
      identity: sender, fromId: C.intermediate.from_id, toId: C.intermediate.to_id,
      recipientX25519Raw: recipientX.publicRaw, text: C.inputs.text, sentAt: C.inputs.sent_at, seq: C.inputs.seq,
      id: C.inputs.id, eph: createPrivateKey(C.keys.ephemeral_x25519_pkcs8_pem), nonce: Buffer.from(C.inputs.nonce_hex, 'hex'),
    });
    assert.deepEqual(envelope, C.envelope);
    const opened = openMessage(C.envelope, {
      expectedTo: C.intermediate.to_id, x25519PrivateKey: recipientX.privateKey, x25519PublicRaw: recipientX.publicRaw,
    });
    assert.deepEqual(opened, {
      id: C.inputs.id, from: C.intermediate.from_id, to: C.intermediate.to_id,
      text: C.inputs.text, sent_at: C.inputs.sent_at, seq: C.inputs.seq,
    });
  });
});
