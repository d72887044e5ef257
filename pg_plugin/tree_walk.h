/*
 * tree_walk.h: typed callbacks for Postgres' expression and query tree walkers.
 *
 * Postgres declares walker and mutator callbacks unprototyped (C's bool (*)() and
 * Node *(*)()), which C++ reads as taking no argument. These casts, through
 * void (*)(void), keep the callbacks typed in our code and the compiler quiet. Also
 * copy_node, since copyObject needs GNU C's typeof.
 */
#ifndef PG_REALTIME_TREE_WALK_H
#define PG_REALTIME_TREE_WALK_H

#include "pg_headers.h"

template <typename Context>
inline auto
as_walker(bool (*walker) (Node *, Context *)) -> bool (*) ()
{
	return reinterpret_cast<bool (*) ()>(reinterpret_cast<void (*) (void)>(walker));
}

template <typename Context>
inline auto
as_mutator(Node *(*mutator) (Node *, Context *)) -> Node *(*) ()
{
	return reinterpret_cast<Node *(*) ()>(reinterpret_cast<void (*) (void)>(mutator));
}

template <typename T>
inline T *
copy_node(const T *node)
{
	return static_cast<T *>(copyObjectImpl(node));
}

#endif
