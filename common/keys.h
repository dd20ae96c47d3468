/* keys: node identity. An Ed25519 key pair (libsodium), kept in one key file
 * of mode 0600; the X25519 transport keys for CURVE are derived from it.
 *
 * Key file format: one line "linli-key-v1 <base64url of the 64-byte secret
 * key>" followed by a newline. The printable public key is the 43-character
 * unpadded base64url of its 32 bytes. Secrets are wiped on li_identity_wipe. */
#ifndef LI_KEYS_H
#define LI_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#define LI_PK_BYTES 32
#define LI_SK_BYTES 64
#define LI_SIG_BYTES 64
#define LI_HASH_BYTES 32
#define LI_PK_TEXT_LEN 43 /* without NUL */

typedef struct {
  uint8_t pk[LI_PK_BYTES];
  uint8_t sk[LI_SK_BYTES];
} li_identity;

/* Must be called once before any other function here (sodium_init). */
li_err li_crypto_init(li_errbuf *eb);

li_err li_identity_generate(li_identity *id);
/* Writes the key file with mode 0600 (O_EXCL: never overwrites). */
li_err li_identity_save(const li_identity *id, const char *path, li_errbuf *eb);
/* Refuses (LI_ERR_KEY_PERMS) a file readable or writable by group/others,
 * saying which chmod to run; LI_ERR_KEY for a malformed file. */
li_err li_identity_load(li_identity *id, const char *path, li_errbuf *eb);
void li_identity_wipe(li_identity *id);

/* Printable public key: out must hold LI_PK_TEXT_LEN + 1 bytes. */
void li_pk_to_text(const uint8_t pk[LI_PK_BYTES], char *out);
/* Accepts exactly the printable form; LI_ERR_KEY with a sentence otherwise. */
li_err li_pk_from_text(const char *text, uint8_t pk[LI_PK_BYTES], li_errbuf *eb);

/* Detached signature over "linli/commit/v1\0" || network || msg. */
void li_sign_commit(const li_identity *id, const uint8_t network[LI_PK_BYTES],
                    const uint8_t *msg, size_t len, uint8_t sig[LI_SIG_BYTES]);
/* 0 if valid, -1 otherwise. */
int li_verify_commit(const uint8_t pk[LI_PK_BYTES], const uint8_t network[LI_PK_BYTES],
                     const uint8_t *msg, size_t len, const uint8_t sig[LI_SIG_BYTES]);

/* BLAKE2b-256 of a buffer (commit hashes, bundle digests). */
void li_hash(const uint8_t *msg, size_t len, uint8_t out[LI_HASH_BYTES]);

/* CURVE transport keys derived from the identity (crypto_sign_ed25519_*_to_curve25519). */
li_err li_curve_keys(const li_identity *id, uint8_t curve_pk[32], uint8_t curve_sk[32]);
li_err li_curve_pk_from_ed(const uint8_t ed_pk[LI_PK_BYTES], uint8_t curve_pk[32]);

#endif
