/* node: one directory = one node: linli.conf, the key file, replica.db.
 * Opening checks them in that order and says what is wrong with each. */
#ifndef LI_NODE_H
#define LI_NODE_H

#include "config.h"
#include "err.h"
#include "keys.h"
#include "replica.h"
#include "roster.h"

typedef struct {
  char dir[LI_PATH_MAX];
  char conf_path[LI_PATH_MAX + 16];
  li_config cfg;
  li_identity id;
  li_replica *r;
  bool locked;  /* lock_fd holds DIR/linli.lock (li_node_lock) */
  int lock_fd;
} li_node;

typedef struct {
  li_role role;
  const char *name;
  const char *scope;        /* committee code; "street" for a hub (default) */
  const char *hub_key;      /* committee: the hub's printable key (required) */
  const char *listen;       /* hub endpoint, optional */
  const char *hub;          /* committee: hub endpoint, optional */
  const char *schema_sql;   /* NULL: the built-in street schema */
} li_node_init_opts;

/* Creates dir (if needed) and a new node in it; refuses a directory that
 * already holds one. */
li_err li_node_init(const char *dir, const li_node_init_opts *o, li_errbuf *eb);
li_err li_node_open(li_node *n, const char *dir, li_errbuf *eb);
/* Opens the node to read only (`linli web`): linli.conf and the replica,
 * opened read-only (li_replica_open_readonly); not the key file, not a
 * pending recover. n->id holds the public key only. */
li_err li_node_open_readonly(li_node *n, const char *dir, li_errbuf *eb);
void li_node_close(li_node *n);

/* Takes the node's lock, an flock(2) on DIR/linli.lock held until
 * li_node_close (or the process ends, even by a crash): `serve` and `sync
 * --once` hold it while they run, `recover` while it changes the key.
 * LI_ERR_EXISTS, saying that `what` must wait, when another process holds
 * it. */
li_err li_node_lock(li_node *n, const char *what, li_errbuf *eb);

/* Path of a file named in the config, relative to the node directory. */
void li_node_path(const li_node *n, const char *file, char *out, size_t cap);

#endif
