/* list.h: intrusive doubly linked lists (Linux style), header only.
 * A node is embedded in its owner; rb_container_of gets the owner back.
 * An unlinked node points at itself, so rb_list_del is idempotent. */
#ifndef RINGBANK_LIST_H
#define RINGBANK_LIST_H

#include <stdbool.h>
#include <stddef.h>

#define rb_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct rb_list {
	struct rb_list *next, *prev;
};

#define RB_LIST_INIT(name) { &(name), &(name) }

static inline void rb_list_init(struct rb_list *l) { l->next = l->prev = l; }
static inline bool rb_list_empty(const struct rb_list *l) { return l->next == l; }

static inline void rb_list_add_tail(struct rb_list *head, struct rb_list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static inline void rb_list_add_head(struct rb_list *head, struct rb_list *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

/* Unlink n and leave it self-linked (safe to call twice). */
static inline void rb_list_del(struct rb_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

static inline struct rb_list *rb_list_pop(struct rb_list *head)
{
	struct rb_list *n = head->next;
	if (n == head)
		return NULL;
	rb_list_del(n);
	return n;
}

#define rb_list_for_each_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
