// Every domain-separation string Grove uses, in one place (docs/design.md §2, §3).
// Changing any of these changes the wire/disk format.

export const FILE_KEY_SALT = 'grove-file-key-v1';
export const MANIFEST_AAD = 'grove-manifest-v1';
export const GRANT_INFO = 'grove-grant-v1';
export const CHAT_INFO = 'grove-chat-v1';
export const INDEX_KEY_INFO = 'grove-index-key-v1';
export const INDEX_AAD = 'grove-index-v1';
/** AAD prefix of a page of a long index section (docs/formats.md "Recovery index"). */
export const INDEX_PAGE_AAD = 'grove-index-page-v1';
export const INVITE_MAC_INFO = 'grove-invite-v1';
export const REQUEST_SIG_CONTEXT = 'grove-request-v1';
export const RESPONSE_SIG_CONTEXT = 'grove-response-v1';
export const KEY_BUNDLE_MAGIC = 'grove-key-bundle-v1';
/** Chat text at rest in placement.db: HKDF info for the local chat key (src/chat/local.ts). */
export const CHAT_LOCAL_INFO = 'grove-chat-local-v1';
/** Proof of storage: SHA-256(CHALLENGE_DOMAIN ‖ nonce ‖ object bytes) (docs/protocol.md "Challenges"). */
export const CHALLENGE_DOMAIN = 'grove-challenge-v1';

export const CHUNK_SIZE = 4 * 1024 * 1024;
export const TAG_LENGTH = 16;
export const KEY_LENGTH = 32;
