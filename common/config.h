/* config: a node's linli.conf, parsed with libinih.
 *
 * Every key is known; an unknown section or key, a bad value or a missing
 * required key is an LI_ERR_CONFIG naming the file, line and key.
 *
 *   [node]
 *   name = c07                  ; roster name, [A-Za-z0-9_-]{1,32}
 *   role = committee            ; committee | hub
 *   scope = c07                 ; committee: its scope code; hub: street
 *   network = <hub public key>  ; pinned at init (the hub's own key on the hub)
 *   key_file = node.key         ; relative to the node directory
 *   replica = replica.db        ; relative to the node directory
 *   cache_mib = 16              ; SQLite page cache; default hub 16, committee 64
 *   [sync]
 *   listen = tcp://127.0.0.1:7700     ; hub only
 *   hub = tcp://127.0.0.1:7700        ; committee only
 *   hub_key = <hub public key>        ; committee only; defaults to network
 *   seal_interval_ms = 1000
 *   batch_rows_max = 5000
 *   batch_bytes_max = 1048576
 *   window = 4
 *   heartbeat_ms = 2000
 *   peer_timeout_ms = 10000
 *   max_clock_skew_ms = 300000
 *   [log]
 *   level = info
 */
#ifndef LI_CONFIG_H
#define LI_CONFIG_H

#include <stdint.h>
#include "err.h"
#include "keys.h"
#include "li_limits.h"
#include "log.h"

typedef enum { LI_ROLE_COMMITTEE = 1, LI_ROLE_HUB = 2 } li_role;

/* LI_NAME_MAX, LI_SCOPE_MAX, LI_ENDPOINT_MAX, LI_PATH_MAX: li_limits.h */

typedef struct {
  char name[LI_NAME_MAX + 1];
  li_role role;
  char scope[LI_SCOPE_MAX + 1];
  uint8_t network[LI_PK_BYTES];
  char key_file[LI_PATH_MAX];
  char replica[LI_PATH_MAX];
  uint32_t cache_mib; /* SQLite page cache of the replica's connection */
  char listen[LI_ENDPOINT_MAX];
  char hub[LI_ENDPOINT_MAX];
  uint8_t hub_key[LI_PK_BYTES];
  uint32_t seal_interval_ms;
  uint32_t batch_rows_max;
  uint32_t batch_bytes_max;
  uint32_t window;
  uint32_t heartbeat_ms;
  uint32_t peer_timeout_ms;
  uint64_t max_clock_skew_ms;
  li_log_level log_level;
} li_config;

/* The page cache a role gets when linli.conf does not set cache_mib. */
uint32_t li_config_cache_mib_default(li_role role);

/* Defaults for every optional key (see li_limits.h for the bounds). */
void li_config_defaults(li_config *c);
li_err li_config_load(li_config *c, const char *path, li_errbuf *eb);
/* Same, from a NUL-terminated string (fuzzing, tests); origin names it in errors. */
li_err li_config_parse(li_config *c, const char *text, const char *origin, li_errbuf *eb);
/* Writes a complete config (mode 0644), failing if the file exists. */
li_err li_config_write(const li_config *c, const char *path, li_errbuf *eb);

/* Names: [A-Za-z0-9_-]{1,32}. Scopes: the same, lower-case letters, digits,
 * '_' and '-'. Endpoints: tcp://HOST:PORT or ipc://PATH. */
int li_valid_name(const char *s);
int li_valid_scope(const char *s);
int li_valid_endpoint(const char *s);

const char *li_role_name(li_role r);

#endif
