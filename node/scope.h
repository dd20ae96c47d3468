/* scope: the names of scopes and a set of scopes a peer reads (DESIGN 6).
 *
 * A scope is a committee's code or LI_SCOPE_STREET for street-wide rows.
 * Every tracked row, commit and chain names one. A committee reads its own
 * scope and the street's; the hub reads all. This header is free of SQLite
 * so that the sync core (session.h) can use it. */
#ifndef LI_SCOPE_H
#define LI_SCOPE_H

#include <stdbool.h>
#include <string.h>
#include "li_limits.h"

/* The street-wide scope: written by the hub only, read by everyone. */
#define LI_SCOPE_STREET "street"

/* Scopes a peer may read: all (the hub), or a list (a committee: own + street). */
typedef struct {
  bool all;
  int n;
  char list[2][LI_SCOPE_MAX + 1];
} li_scopes;

static inline bool li_scopes_has(const li_scopes *s, const char *scope) {
  if (s->all) return true;
  for (int i = 0; i < s->n && i < 2; i++)
    if (strcmp(s->list[i], scope) == 0) return true;
  return false;
}

static inline bool li_scopes_equal(const li_scopes *a, const li_scopes *b) {
  if (a->all || b->all) return a->all == b->all;
  if (a->n != b->n) return false;
  for (int i = 0; i < a->n && i < 2; i++)
    if (!li_scopes_has(b, a->list[i])) return false;
  return true;
}

#endif
