/* limits: every limit of linli in one place, each with its reason.
 * Exceeding one is an LI_ERR_LIMIT or LI_ERR_TOO_BIG naming it. */
#ifndef LI_LIMITS_H
#define LI_LIMITS_H

/* Rows per commit: seal splits larger dirty sets into several commits so a
 * commit (and its decode) stays small and a batch can be bounded. */
#define LI_COMMIT_ROWS_MAX 4096
/* Encoded commit size: a commit is held in memory whole while verified and
 * decoded; 4 MiB bounds that with room for rows of large text/blobs. */
#define LI_COMMIT_BYTES_MAX (4u << 20)
/* One value (text or blob) inside a row: keeps a commit under the cap above. */
#define LI_VALUE_BYTES_MAX (1u << 20)
/* Columns per tracked table: the capture triggers record changed columns as
 * a bit mask in one 64-bit integer (bit 63 unused to stay positive). */
#define LI_TABLE_COLS_MAX 63
/* Primary-key columns per tracked table. */
#define LI_PK_COLS_MAX 8
/* Tracked tables per replica. */
#define LI_TABLES_MAX 64
/* Dependencies listed in one commit: one per (origin, scope) chain of its
 * scope; a street has tens of committees, each PC one origin. */
#define LI_DEPS_MAX 1024
/* Tables in one commit. */
#define LI_COMMIT_TABLES_MAX LI_TABLES_MAX
/* Bundle file: 64 GiB is far beyond a USB stick's worth of street records
 * and stops a corrupt length from running forever. */
#define LI_BUNDLE_BYTES_MAX (64ull << 30)
/* Frame inside a bundle: a commit plus protobuf framing. */
#define LI_BUNDLE_FRAME_MAX (LI_COMMIT_BYTES_MAX + 1024)
/* Commits applied per SQLite transaction when importing a bundle: bounds the
 * memory of one transaction; the import is still all-or-nothing per bundle
 * because every batch runs inside one outer transaction. */
#define LI_IMPORT_BATCH_COMMITS 64
/* Clock skew: a commit stamped more than this ahead of our wall clock is held
 * (DESIGN 5). Configurable within [LI_SKEW_MIN_MS, LI_SKEW_MAX_MS]. */
#define LI_SKEW_DEFAULT_MS (5u * 60 * 1000)
#define LI_SKEW_MIN_MS 1000u
#define LI_SKEW_MAX_MS (7u * 24 * 3600 * 1000)
/* Key file: must not be readable or writable by group or others. */
#define LI_KEY_FILE_MODE 0600
/* Sync batches: rows and bytes per batch message, unacknowledged batches. */
#define LI_BATCH_ROWS_DEFAULT 5000u
#define LI_BATCH_ROWS_MAX 100000u
#define LI_BATCH_BYTES_DEFAULT (1u << 20)
#define LI_BATCH_BYTES_MAX (8u << 20)
#define LI_WINDOW_DEFAULT 4u
#define LI_WINDOW_MAX 64u
/* One ZeroMQ message: a batch plus envelope; ZMQ_MAXMSGSIZE is set to it. */
#define LI_MSG_BYTES_MAX (LI_BATCH_BYTES_MAX + LI_COMMIT_BYTES_MAX + 4096)
/* Peers a hub serves at once. */
#define LI_PEERS_MAX 256
/* Config file size: a config is a few hundred bytes. */
#define LI_CONFIG_BYTES_MAX (64u << 10)

#endif
