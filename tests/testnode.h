/* Node fixtures shared by the cmocka tests that need whole nodes. */
#ifndef LI_TESTNODE_H
#define LI_TESTNODE_H
#include "testutil.h"
#include "node.h"

/* A node initialised in dir and opened; fails the test on any error. */
static inline li_node *tu_node_new(const char *dir, li_role role, const char *name, const char *scope,
                                   const char *hub_key) {
  li_node_init_opts o = {.role = role, .name = name, .scope = scope, .hub_key = hub_key};
  li_errbuf eb = {{0}};
  li_err e = li_node_init(dir, &o, &eb);
  if (e) fail_msg("li_node_init %s: %s (%s)", dir, li_errname(e), eb.msg);
  li_node *n = calloc(1, sizeof *n);
  assert_non_null(n);
  if ((e = li_node_open(n, dir, &eb))) fail_msg("li_node_open %s: %s (%s)", dir, li_errname(e), eb.msg);
  return n;
}

/* Closes and frees a node made by tu_node_new; safe on NULL and twice. */
static inline void tu_node_free(li_node **n) {
  if (!*n) return;
  li_node_close(*n);
  free(*n);
  *n = NULL;
}
#endif
