/*
 * skiplist.c -- the lock-free-read skiplist behind a memtable. See
 * skiplist.h for the contract.
 *
 * Threads: one writer inserts (the caller serializes writers); any number
 * of readers walk the list at the same time without locks.
 *
 * How readers stay safe: a node is fully built (entry and its own next
 * pointers) before it becomes reachable, and it becomes reachable only
 * through a release store into a predecessor's next pointer, which readers
 * load with acquire. So whatever a reader can reach is complete. Nodes are
 * linked bottom level first; a reader may therefore see a node at level 0
 * before the upper levels know it, which only costs it a longer walk.
 * Nothing is ever unlinked, so a pointer a reader holds stays valid until
 * the arena is freed.
 *
 * Invariants: at every level the list is sorted by cmp, and among equal
 * entries the most recently inserted comes first; a node of height h is on
 * levels 0..h-1; max_height only grows.
 */
#include "db/skiplist.h"

#include <stdatomic.h>
#include <stddef.h>

#include "util/error.h"

#define BRANCHING 4 /* a node reaches level i+1 with probability 1/4 */

/* One allocation per node: its links, then the node proper, then the
 * entry. The links sit below the node's address, next[i] at
 * ((_Atomic(struct node *) *)n)[-1 - i] for levels 0..height-1, so the
 * level-0 link, the prefix and the first bytes of the entry share a cache
 * line or two, and a search step touches little memory. The height is not
 * stored: nothing needs it once the node is linked. */
struct node {
	skiplist_prefix_t prefix; /* list->prefix(entry): most comparisons stop here */
	uint8_t entry[];          /* empty for the head */
};

typedef _Atomic(struct node *) link_t;

static inline link_t *link_at(const struct node *n, int level)
{
	return (link_t *)n - 1 - level;
}

struct skiplist {
	arena_t *arena;
	skiplist_cmp_fn cmp;
	skiplist_prefix_fn prefix; /* NULL: all prefixes 0, cmp decides everything */
	struct node *head; /* a sentinel of height SKIPLIST_MAX_HEIGHT */
	/* Read without ordering by readers: a stale value only means starting
	 * a search lower, and a fresh one with still-NULL head links only
	 * means dropping a level. */
	atomic_int max_height;
	atomic_uint_fast64_t count;
	uint64_t rng; /* writer only */
};

/* A node with room for an entry of len bytes, links NULL, prefix unset. */
static struct node *node_new(skiplist_t *list, size_t len, int height)
{
	size_t links = (size_t)height * sizeof(link_t);
	uint8_t *p = arena_alloc_aligned(list->arena, links + sizeof(struct node) + len);
	if (p == NULL)
		return NULL;
	struct node *n = (struct node *)(p + links);
	for (int i = 0; i < height; i++)
		atomic_init(link_at(n, i), NULL);
	return n;
}

static struct node *node_of(const uint8_t *entry)
{
	return (struct node *)(entry - offsetof(struct node, entry));
}

static skiplist_prefix_t target_prefix(const skiplist_t *list, const uint8_t *target)
{
	return list->prefix != NULL ? list->prefix(target) : (skiplist_prefix_t){ 0, 0 };
}

/* cmp(n->entry, target), settled by the prefixes when they differ: that
 * saves touching the entry's memory on most steps of a search. */
static inline int node_cmp(const skiplist_t *list, const struct node *n, const uint8_t *target,
			   skiplist_prefix_t tp)
{
	if (n->prefix.hi != tp.hi)
		return n->prefix.hi < tp.hi ? -1 : 1;
	if (n->prefix.lo != tp.lo)
		return n->prefix.lo < tp.lo ? -1 : 1;
	return list->cmp(n->entry, target);
}

static struct node *next_acquire(const struct node *n, int level)
{
	return atomic_load_explicit(link_at(n, level), memory_order_acquire);
}

/* xorshift64*: plenty for coin flips, and deterministic, which keeps a
 * list's shape reproducible from one run to the next. */
static uint64_t rng_next(skiplist_t *list)
{
	uint64_t x = list->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	list->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static int random_height(skiplist_t *list)
{
	int height = 1;
	/* The high bits of xorshift64* are its best ones. */
	while (height < SKIPLIST_MAX_HEIGHT && (rng_next(list) >> 32) % BRANCHING == 0)
		height++;
	return height;
}

static int current_height(const skiplist_t *list)
{
	return atomic_load_explicit(&list->max_height, memory_order_relaxed);
}

/* The first node whose entry is >= target, or NULL. When prev is given,
 * prev[i] receives the last node at level i whose entry is < target (the
 * head if none), i.e. where a new entry equal to target must go so that it
 * precedes existing equal ones. */
static struct node *find_ge(const skiplist_t *list, const uint8_t *target, struct node **prev)
{
	struct node *x = list->head;
	int level = current_height(list) - 1;
	skiplist_prefix_t tp = target_prefix(list, target);
	/* The node that ended the walk on the level above is often the next
	 * one on this level too: it is already known to be >= target. */
	const struct node *known_ge = NULL;
	for (;;) {
		struct node *next = next_acquire(x, level);
		/* Where the walk goes if it descends here: fetched while next
		 * is compared, so two cache misses overlap instead of one
		 * waiting for the other. */
		if (level > 0)
			__builtin_prefetch(next_acquire(x, level - 1));
		if (next != NULL && next != known_ge && node_cmp(list, next, target, tp) < 0) {
			x = next;
			continue;
		}
		known_ge = next;
		if (prev != NULL)
			prev[level] = x;
		if (level == 0)
			return next;
		level--;
	}
}

/* The last node whose entry is < target (or <= target when or_equal), or
 * the head if there is none. */
static struct node *find_last_before(const skiplist_t *list, const uint8_t *target, bool or_equal)
{
	struct node *x = list->head;
	int level = current_height(list) - 1;
	skiplist_prefix_t tp = target_prefix(list, target);
	for (;;) {
		struct node *next = next_acquire(x, level);
		if (next != NULL) {
			int c = node_cmp(list, next, target, tp);
			if (c < 0 || (or_equal && c == 0)) {
				x = next;
				continue;
			}
		}
		if (level == 0)
			return x;
		level--;
	}
}

static struct node *find_last(const skiplist_t *list)
{
	struct node *x = list->head;
	int level = current_height(list) - 1;
	for (;;) {
		struct node *next = next_acquire(x, level);
		if (next != NULL) {
			x = next;
			continue;
		}
		if (level == 0)
			return x;
		level--;
	}
}

skiplist_t *skiplist_new(arena_t *arena, skiplist_cmp_fn cmp, skiplist_prefix_fn prefix)
{
	skiplist_t *list = arena_alloc_aligned(arena, sizeof(*list));
	if (list == NULL)
		return NULL;
	list->arena = arena;
	list->cmp = cmp;
	list->prefix = prefix;
	list->rng = 0x9E3779B97F4A7C15ull; /* any nonzero seed */
	atomic_init(&list->max_height, 1);
	atomic_init(&list->count, 0);
	list->head = node_new(list, 0, SKIPLIST_MAX_HEIGHT);
	if (list->head == NULL)
		return NULL; /* the arena owns the partial list; nothing to undo */
	list->head->prefix = (skiplist_prefix_t){ 0, 0 };
	return list;
}

uint8_t *skiplist_alloc(skiplist_t *list, size_t len)
{
	int height = random_height(list);
	struct node *n = node_new(list, len, height);
	if (n == NULL)
		return NULL;
	/* Until skiplist_insert links it, nobody else can see the node: its
	 * level-0 link holds its height meanwhile. */
	atomic_store_explicit(link_at(n, 0), (struct node *)(uintptr_t)height,
			      memory_order_relaxed);
	return n->entry;
}

void skiplist_insert(skiplist_t *list, uint8_t *entry)
{
	struct node *n = node_of(entry);
	int height = (int)(uintptr_t)atomic_load_explicit(link_at(n, 0), memory_order_relaxed);
	n->prefix = list->prefix != NULL ? list->prefix(entry) : (skiplist_prefix_t){ 0, 0 };

	struct node *prev[SKIPLIST_MAX_HEIGHT];
	find_ge(list, entry, prev);
	int max_height = current_height(list);
	if (height > max_height) {
		for (int i = max_height; i < height; i++)
			prev[i] = list->head;
		atomic_store_explicit(&list->max_height, height, memory_order_relaxed);
	}

	for (int i = 0; i < height; i++) {
		/* Only this thread writes links, so its own reads need no
		 * ordering; n is not yet reachable, so its links need none
		 * either. The release store is what publishes n. */
		struct node *succ = atomic_load_explicit(link_at(prev[i], i), memory_order_relaxed);
		atomic_store_explicit(link_at(n, i), succ, memory_order_relaxed);
		atomic_store_explicit(link_at(prev[i], i), n, memory_order_release);
	}

	atomic_store_explicit(&list->count,
			      atomic_load_explicit(&list->count, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

uint64_t skiplist_count(const skiplist_t *list)
{
	return atomic_load_explicit(&list->count, memory_order_relaxed);
}

void skiplist_iter_init(skiplist_iter_t *it, const skiplist_t *list)
{
	it->list = list;
	it->node = NULL;
}

bool skiplist_iter_valid(const skiplist_iter_t *it)
{
	return it->node != NULL;
}

const uint8_t *skiplist_iter_entry(const skiplist_iter_t *it)
{
	return ((const struct node *)it->node)->entry;
}

void skiplist_iter_next(skiplist_iter_t *it)
{
	it->node = next_acquire(it->node, 0);
}

void skiplist_iter_prev(skiplist_iter_t *it)
{
	const struct node *cur = it->node;
	/* Searching by entry lands before every entry equal to cur's, and cur
	 * may be anywhere in that run of equals; step along the run to the
	 * node just before cur. It is a short walk unless one entry was
	 * inserted many times. */
	struct node *x = find_last_before(it->list, cur->entry, false);
	for (;;) {
		struct node *next = next_acquire(x, 0);
		if (next == cur)
			break;
		x = next;
	}
	it->node = x == it->list->head ? NULL : x;
}

void skiplist_iter_seek(skiplist_iter_t *it, const uint8_t *target)
{
	it->node = find_ge(it->list, target, NULL);
}

void skiplist_iter_seek_for_prev(skiplist_iter_t *it, const uint8_t *target)
{
	struct node *x = find_last_before(it->list, target, true);
	it->node = x == it->list->head ? NULL : x;
}

void skiplist_iter_seek_first(skiplist_iter_t *it)
{
	it->node = next_acquire(it->list->head, 0);
}

void skiplist_iter_seek_last(skiplist_iter_t *it)
{
	struct node *x = find_last(it->list);
	it->node = x == it->list->head ? NULL : x;
}
