/* arena: bump allocation in chunks; see arena.h. */
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define S_CHUNK_MIN (64u << 10)

struct li_arena_chunk {
  li_arena_chunk *next; /* in a->all */
  size_t cap, off;
  _Alignas(16) unsigned char data[];
};

static void *s_pb_alloc(void *ctx, size_t n) { return li_arena_alloc(ctx, n); }
static void s_pb_free(void *ctx, void *p) { (void)ctx, (void)p; }

void li_arena_init(li_arena *a) {
  memset(a, 0, sizeof *a);
  a->pb.alloc = s_pb_alloc;
  a->pb.free = s_pb_free;
  a->pb.allocator_data = a;
}

void *li_arena_alloc(li_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  li_arena_chunk *c = a->head;
  if (!c || c->cap - c->off < n) {
    /* reuse a later chunk from a previous round if one is big enough */
    li_arena_chunk *r = c ? c->next : a->all;
    while (r && r->cap < n) r = r->next;
    if (r && r->off == 0) {
      c = r;
    } else {
      size_t cap = n > S_CHUNK_MIN ? n : S_CHUNK_MIN;
      c = malloc(sizeof *c + cap);
      if (!c) return NULL;
      c->cap = cap;
      c->off = 0;
      /* insert after head so the reuse walk sees chunks in order */
      if (a->head) {
        c->next = a->head->next;
        a->head->next = c;
      } else {
        c->next = a->all;
        a->all = c;
      }
    }
    a->head = c;
  }
  void *p = c->data + c->off;
  c->off += n;
  a->used += n;
  return p;
}

char *li_arena_strndup(li_arena *a, const char *s, size_t n) {
  char *p = li_arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void li_arena_reset(li_arena *a) {
  for (li_arena_chunk *c = a->all; c; c = c->next) c->off = 0;
  a->head = NULL;
  a->used = 0;
}

void li_arena_free(li_arena *a) {
  li_arena_chunk *c = a->all;
  while (c) {
    li_arena_chunk *n = c->next;
    free(c);
    c = n;
  }
  li_arena_init(a);
}
