/* arena: a bump allocator for short-lived trees (decoded and encoded
 * protobuf messages of one commit). Everything is freed at once by
 * li_arena_reset/li_arena_free; chunks are kept across resets so a loop of
 * commits reuses the same memory (bounded by the largest commit).
 * Usable as a ProtobufCAllocator via li_arena_pb. */
#ifndef LI_ARENA_H
#define LI_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct li_arena_chunk li_arena_chunk;
typedef struct {
  li_arena_chunk *head; /* chunk being filled */
  li_arena_chunk *all;  /* every chunk, for reuse and free */
  size_t used;          /* bytes handed out since the last reset */
  ProtobufCAllocator pb;
} li_arena;

void li_arena_init(li_arena *a);
/* NULL when out of memory. Aligned to 16 bytes. */
void *li_arena_alloc(li_arena *a, size_t n);
char *li_arena_strndup(li_arena *a, const char *s, size_t n);
void li_arena_reset(li_arena *a);
void li_arena_free(li_arena *a);

#endif
