/* limits: every limit of linli in one place, each with its reason.
 * Exceeding one is an error (LI_ERR_LIMIT or LI_ERR_TOO_BIG for sizes and
 * counts, LI_ERR_CONFIG / LI_ERR_KEY / LI_ERR_USAGE where the input is a
 * file or an argument) whose message names the limit, e.g. "... over 100000
 * (LI_HELLO_HEADS_MAX)". Tunables (timeouts, intervals, defaults) live with
 * their code; only what bounds input, memory or work is here. Values are
 * part of the format where they bound what a peer may send: lowering one
 * can make an older peer's input refused. */
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
/* One row, all its values together: a row travels in one commit, and seal
 * starts a new commit once one holds half of LI_COMMIT_BYTES_MAX, so a
 * commit is at most 2 MiB of earlier rows, this row, its deps (at most
 * LI_DEPS_MAX of ~45 bytes) and framing: under the 4 MiB cap. The capture
 * triggers refuse a larger row in the writer's own statement (DESIGN 13).
 * Counted: the bytes of text and blob values; numbers (at most 8 bytes
 * each) are left out. */
#define LI_ROW_BYTES_MAX (3u << 19)
/* Columns per tracked table: the capture triggers record changed columns as
 * a bit mask in one 64-bit integer (bit 63 unused to stay positive). */
#define LI_TABLE_COLS_MAX 63
/* Primary-key columns per tracked table besides scope (what a commit's
 * RowChange.pk carries). */
#define LI_PK_COLS_MAX 8
/* Tracked tables per replica. */
#define LI_TABLES_MAX 64
/* UPDATE statements kept prepared per tracked table, one per column mask
 * (merge sets the same few column sets again and again; the oldest goes). */
#define LI_UPD_CACHE 8
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
/* Commits merged per batch when importing a bundle: bounds the memory held
 * for one batch; every batch runs inside the import's one transaction, so a
 * damaged file still changes nothing. */
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
/* The hub's receive budget: batch bytes its committees together may have
 * unacknowledged at once, shared out equally (each is told its share, the
 * byte window: among the roster's committees in a Hello, among those
 * connected in an Ack; driver.c, session.c). Without it a
 * hub took window x batch bytes from each of 50 committees with backlogs
 * (50 x 4 x 1 MiB): 166 MiB peak RSS at 50 x 20,000 rows. One committee
 * alone keeps its whole window (16 MiB > 4 x 1 MiB). */
#define LI_HUB_RECV_BYTES (16u << 20)
/* The smallest share, however many committees: a batch of a few hundred
 * rows, so a street of hundreds still moves. */
#define LI_RECV_WINDOW_MIN_BYTES (64u << 10)
/* serve: blocks from this size up are mmapped, so memory a batch held is
 * returned when it is freed (serve.c). */
#define LI_SERVE_MMAP_THRESHOLD (128 << 10)
/* One ZeroMQ message: a batch plus envelope; ZMQ_MAXMSGSIZE is set to it. */
#define LI_MSG_BYTES_MAX (LI_BATCH_BYTES_MAX + LI_COMMIT_BYTES_MAX + 4096)
/* Peers a hub serves at once: the peer table is allocated whole at start
 * (a street has tens of committees); a peer beyond it is refused and logged. */
#define LI_PEERS_MAX 256
/* SQLite page cache of a node's replica connection, MiB (linli.conf
 * [node] cache_mib). SQLite's cache is per connection and fills up to its
 * size as the database grows, so it is the largest part of a long-running
 * daemon's memory. A committee keeps the 64 MiB its capture and seal were
 * measured with (docs/benchmarks.md). The hub holds one connection for all
 * committees and writes mostly appends (the log, new rows): at 64 MiB the
 * cache alone was most of its 84-89 MiB peak under fan-in, over issue 14's
 * 64 MiB aim for the whole hub; 16 MiB leaves room for the per-peer queues.
 * The range stops a typo from giving SQLite no cache or all of a PC's RAM. */
#define LI_CACHE_MIB_HUB 16u
#define LI_CACHE_MIB_COMMITTEE 64u
#define LI_CACHE_MIB_MIN 1u
#define LI_CACHE_MIB_MAX 4096u
/* Config file size: a config is a few hundred bytes. */
#define LI_CONFIG_BYTES_MAX (64u << 10)

/* ---- names and paths (config, roster, chains) ---- */
/* Node and roster names: short enough for a status line and a file name. */
#define LI_NAME_MAX 32
/* Scope codes (committee codes, "street"): stored in every commit and chain
 * head, so kept short; fixed-size buffers everywhere hold them. */
#define LI_SCOPE_MAX 32
/* Endpoint text "tcp://HOST:PORT" or "ipc://PATH": a host name is at most
 * 253 characters. */
#define LI_ENDPOINT_MAX 256
/* Paths of the node directory and the files named in linli.conf. */
#define LI_PATH_MAX 1024
/* Key file: one line "linli-key-v1 <86 characters>\n" is 100 bytes; reading
 * stops at this many, so anything larger is not a key file. */
#define LI_KEY_FILE_BYTES_MAX 512
/* Schema file given to `linli init --schema`: read whole into memory; the
 * street schema is ~20 KiB. */
#define LI_SCHEMA_BYTES_MAX (1u << 20)
/* A schema migration (`linli schema apply FILE`, and the Migration of a
 * schema commit): its file is read whole like a schema file; the
 * statements travel in one commit, so together they stay well under
 * LI_COMMIT_BYTES_MAX, and each is one statement of SQL a person wrote. */
#define LI_MIGRATION_BYTES_MAX (64u * 1024u)
#define LI_MIGRATION_STMTS_MAX 64
/* Schema versions: one per migration; a street that migrates every week
 * for a century stays far below. Bounds what a hostile commit may claim. */
#define LI_SCHEMA_VERSION_MAX 100000
/* Long work shows progress on a terminal from this many commits on
 * (bundle import; a line a second, on stderr when it is a tty). */
#define LI_PROGRESS_MIN_COMMITS 2000
/* Table name of a tracked table: held in fixed buffers while a schema is
 * tracked at init. */
#define LI_TABLE_NAME_MAX 127

/* ---- commits and chains ---- */
/* A SignedCommit: the commit plus its signature, signer and network (each
 * with protobuf framing, ~140 bytes); checked before anything is decoded. */
#define LI_SIGNED_COMMIT_BYTES_MAX (LI_COMMIT_BYTES_MAX + 256)
/* Distinct origins (signing keys) a replica knows: each gets a local index
 * stored in linli_clock; a street has tens of PCs, so a million is far
 * beyond any real roster and keeps the index in an int. */
#define LI_ORIGINS_MAX 1000000
/* Bytes of commits applied per SQLite transaction when importing a bundle
 * (with LI_IMPORT_BATCH_COMMITS): bounds the memory held for one batch. */
#define LI_IMPORT_BATCH_BYTES (16u << 20)
/* Chains one merge batch or one bundle import names as stopped (each with
 * its reason, ~600 bytes): a committee reads a few chains and the hub meets
 * one per committee PC, so 256 leaves room; past it a refused chain is only
 * counted, and its later commits are refused one by one as gaps. It also
 * bounds the scan for a stopped chain per commit of a batch. */
#define LI_MERGE_REJECTS_MAX 256

/* ---- sync session ---- */
/* Chain heads in one Hello: a street has tens of committees with a few
 * origins each; 100000 chains is far beyond that and bounds the work and
 * memory of one Hello (a peer sending more is refused). */
#define LI_HELLO_HEADS_MAX 100000u
/* ForkReports a session sends per exchange (every fork still gets an
 * event): a peer's chains cannot make us flood it. */
#define LI_FORK_REPORTS_MAX 2u
/* Chains named as rejected in one Ack: a batch's rejected chains beyond it
 * are only counted (the sender learns of them at the next exchange), so a
 * batch of one-commit chains all refused cannot make an Ack huge. */
#define LI_ACK_REJECTS_MAX 64u
/* Events a session keeps until the adapter takes them; later ones are
 * dropped, so a peer cannot grow our memory through events. */
#define LI_SESSION_EVENTS_MAX 256u

/* ---- transport (ZeroMQ) ---- */
/* Per-peer queue bound, each way: the session keeps at most
 * LI_WINDOW_MAX + 4 messages in flight (session.h), so a deeper queue would
 * only hold memory (messages may be ~12 MiB). */
#define LI_TRANSPORT_HWM 68
/* The hub's inbound queue per peer: past it the hub stops reading that
 * peer's connection until it has caught up (TCP pushes back on the sender;
 * nothing is lost). With LI_TRANSPORT_HWM messages of up to LI_MSG_BYTES_MAX
 * (~12 MiB) one admitted peer flooding max-size messages made a busy hub
 * hold ~400-500 MiB (tests/exhaust.t.sh); this bounds it to ~100 MiB. A
 * committee of the default window (4 batches and a Hello, Ack or Heartbeat)
 * fits in it; a larger window is only paced by it. */
#define LI_TRANSPORT_HUB_RCVHWM (LI_WINDOW_DEFAULT + 4)
/* ROUTER routing ids are at most 255 bytes in ZeroMQ. */
#define LI_PEER_ID_MAX 256
/* ZAP requests and monitor events handled per wake-up before the data
 * socket gets its turn, so a flood of handshakes cannot starve the data. */
#define LI_ZAP_BATCH_MAX 64
#define LI_MONITOR_BATCH_MAX 64
/* Frames drained from one malformed multi-frame message before giving up
 * on it (a well-formed message is one frame). */
#define LI_DRAIN_FRAMES_MAX 1024

/* ---- log volume (issue 12: a peer must not grow the hub's log at will) ---- */
/* Lines about one source's input are logged at most a burst per window
 * (li_log_budget, common/log.h); the rest are counted and summed up in one
 * line when the window is over. */
#define LI_LOG_WINDOW_MS 60000u
/* Warnings a peer's input causes (malformed messages, rejected commits,
 * refusals, fork reports), per peer: a line per message let an admitted
 * peer sending garbage in a loop grow the hub's log by ~3,000 lines
 * (300 KB) a second (tests/exhaust.t.sh). */
#define LI_LOG_PEER_WARNS 20u
/* "connected" lines per peer key: a committee reconnects a few times a
 * minute at worst; 200 connections of one admitted key gave 200 lines
 * (tests/flood.t.sh). */
#define LI_LOG_PEER_CONNECTS 5u
/* Refused handshakes (a CURVE key not in the roster), all sources
 * together: before any key is admitted nothing tells sources apart, and
 * 2,000 refusals in 5.7 s gave 2,000 lines, 256 KB. A committee a hub
 * refuses retries at most once a minute (transport.c), so ten a minute
 * still shows each of a few misconfigured PCs. */
#define LI_LOG_REFUSALS 10u
/* Messages the hub's transport drops unread (more than one frame, over
 * LI_MSG_BYTES_MAX, no key), all sources together: 20,000 two-frame
 * messages gave 20,000 lines, 2 MB. */
#define LI_LOG_DROPS 20u

/* ---- reports ---- */
/* Committees in one hub report: a street has tens; the bound stops a
 * corrupt roster from making the report unbounded. */
#define LI_REPORT_COMMITTEES_MAX 4096
/* Bytes kept of a roster name or scope read from the database (a valid one
 * has at most 32); longer text is cut at a character boundary. */
#define LI_REPORT_TEXT_MAX 256

/* ---- text output (node/out.c) ---- */
/* Terminal columns an untrusted name or scope may take in a table or a
 * status line (a valid one has at most 32 characters); wider text is cut
 * and ends with '~', so a hostile name cannot push the rest off screen. */
#define LI_OUT_TEXT_COLS_MAX 32
/* One cell of a text table, after cleaning: columns and bytes (zero-width
 * characters take bytes but no columns, so both are bounded). A cell is
 * cleaned into a stack buffer of LI_OUT_CELL_BYTES. */
#define LI_OUT_CELL_COLS_MAX 64
#define LI_OUT_CELL_BYTES 256
/* Columns of a text table: the report has 18. */
#define LI_OUT_TABLE_COLS_MAX 32
/* Nesting the JSON writer tracks: linli's documents nest 4 deep at most;
 * the writer's state is a fixed array of this size. */
#define LI_JSON_DEPTH_MAX 16

/* ---- inspection (node/inspect.c: status, log, verify, conflicts, digest) ---- */
/* Rows of one list that status or digest holds in memory (chains, peers,
 * rejection reasons, bans, scopes): a street has tens of committees with a
 * few origins each; the bound stops a corrupt replica from making them
 * unbounded (over it: LI_ERR_LIMIT). */
#define LI_INSPECT_ROWS_MAX 100000
/* Bytes kept of a name, scope or reason read from the database for
 * display (a valid name or scope has at most 32); longer text is cut at a
 * character boundary. */
#define LI_INSPECT_TEXT_MAX 256
/* Problems verify keeps to show: each is counted, only the first this many
 * are kept, so a wholly corrupt log cannot make verify's memory unbounded. */
#define LI_VERIFY_PROBLEMS_MAX 10000
/* Refused row changes status lists (the newest; all are counted): enough
 * to see what kind of mistake it is, `linli refused`-style detail is in
 * linli_refused itself. */
#define LI_STATUS_REFUSED_SHOWN 5
/* Bytes of what holds sealing back, as the daemon saves it for status
 * (node/gate.c writes at most 700: a bilingual sentence with a scope and a
 * peer name in it). */
#define LI_SEAL_TEXT_MAX 1023

/* ---- the dashboard (node/web.c, node/webpage.c: `linli web`) ---- */
/* Bytes of a request's URL (path and query): the dashboard's own links are
 * under 300; a longer one is a probe (over it: 414). */
#define LI_WEB_URL_MAX 2048
/* Memory libmicrohttpd may use per connection, which bounds the request
 * line and headers read together (over it libmicrohttpd answers 414/431
 * itself): a browser sends under 2 KiB of headers. */
#define LI_WEB_CONN_BYTES_MAX (32u << 10)
/* Header lines of one request: a browser sends about 15 (over it: 431). */
#define LI_WEB_HEADERS_MAX 64
/* Seconds a connection may stay idle (a slow client sending its request a
 * byte at a time is cut off at this pace). */
#define LI_WEB_IDLE_S 10
/* Connections at once, and from one address: a street office has a few
 * browsers; the bound keeps a flood from holding every descriptor. */
#define LI_WEB_CONNECTIONS_MAX 64
#define LI_WEB_PER_IP_MAX 16
/* Bytes of a login form's body: one password field. */
#define LI_WEB_FORM_BYTES_MAX 1024
/* A password's bytes (a passphrase fits; the hash is libsodium's
 * crypto_pwhash_str, so length costs nothing later) and its least. */
#define LI_WEB_PASSWORD_MAX 256
#define LI_WEB_PASSWORD_MIN 8
/* Failed logins per address in LI_WEB_LOGIN_WINDOW_S seconds before the
 * address must wait out the window (429), and the addresses remembered;
 * every failure also costs the hasher's interactive work. The global bound
 * stops guessing from many addresses. */
#define LI_WEB_LOGIN_FAILS_MAX 5
#define LI_WEB_LOGIN_FAILS_GLOBAL_MAX 30
#define LI_WEB_LOGIN_WINDOW_S 60
#define LI_WEB_LOGIN_ADDRS_MAX 256
/* Logged-in sessions kept (the oldest goes first) and their lifetime. */
#define LI_WEB_SESSIONS_MAX 64
#define LI_WEB_SESSION_S (12 * 3600)
/* Rows of one list page (overdue hazards, cases, visits ...): a page a
 * person reads; the CSV download has the same bound, and the page says
 * when it is cut. */
#define LI_WEB_LIST_ROWS_MAX 1000
/* Changes shown on a record's history page: the newest are kept. */
#define LI_WEB_HISTORY_MAX 500
/* Notices on the notices page, each checked against every committee. */
#define LI_WEB_NOTICES_MAX 200

#endif
