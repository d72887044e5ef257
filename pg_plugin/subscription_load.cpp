/*
 * subscription_load.cpp: reading the whole of realtime.subscription (see
 * subscription_catalog.h): the copy taken at startup with a fresh MVCC snapshot, and the
 * exact reload as of just before a transaction's commit with the snapshot builder's
 * historic snapshot. Plain code only: no object with a destructor lives on these stacks.
 */
#include "subscription_catalog.h"

/* Reads every row of rel visible to snapshot into *rows (palloc'd in result_cxt). */
static int
scan_subscription_rows(Relation rel, Snapshot snapshot, SubscriptionRow **rows,
					   MemoryContext result_cxt)
{
	SubscriptionLayout layout;
	SysScanDesc scan;
	HeapTuple	tuple;
	int			count = 0;
	int			capacity = 64;
	SubscriptionRow *result;

	if (!relation_is_subscription_table(rel) ||
		!subscription_layout(RelationGetDescr(rel), &layout))
		return 0;

	result = (SubscriptionRow *) MemoryContextAlloc(result_cxt,
													sizeof(SubscriptionRow) * capacity);
	scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, NULL);
	while ((tuple = systable_getnext(scan)) != NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(result_cxt);

		if (count == capacity)
		{
			capacity *= 2;
			result = (SubscriptionRow *) repalloc(result, sizeof(SubscriptionRow) * capacity);
		}
		if (read_subscription_row(tuple, RelationGetDescr(rel), &layout, &result[count]))
			count++;
		MemoryContextSwitchTo(old);
	}
	systable_endscan(scan);

	*rows = result;
	return count;
}

/*
 * Copies every row of rel visible to snapshot, with TOASTed values inlined so that the
 * copies outlive the snapshot. Parsing waits until the rows are known to be needed.
 */
static int
copy_subscription_tuples(Relation rel, Snapshot snapshot, HeapTuple **tuples)
{
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, snapshot, 0, NULL);
	HeapTuple	tuple;
	int			count = 0;
	int			capacity = 64;
	HeapTuple  *result = (HeapTuple *) palloc(sizeof(HeapTuple) * capacity);

	while ((tuple = systable_getnext(scan)) != NULL)
	{
		if (count == capacity)
		{
			capacity *= 2;
			result = (HeapTuple *) repalloc(result, sizeof(HeapTuple) * capacity);
		}
		result[count++] = HeapTupleHasExternal(tuple)
			? toast_flatten_tuple(tuple, RelationGetDescr(rel))
			: heap_copytuple(tuple);
	}
	systable_endscan(scan);
	*tuples = result;
	return count;
}

/*
 * True if every transaction this slot will decode sees the table in its catalog: the
 * transaction that wrote the table's pg_class row finished before the slot's catalog
 * horizon (catalog_xmin), which no historic snapshot of the slot precedes.
 */
static bool
table_predates_slot(Oid relid, TransactionId catalog_xmin)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	TransactionId xmin;

	if (!HeapTupleIsValid(tuple))
		return false;
	xmin = HeapTupleHeaderGetXmin(tuple->t_data);	/* FrozenTransactionId if frozen */
	ReleaseSysCache(tuple);
	return TransactionIdIsValid(catalog_xmin) && TransactionIdPrecedes(xmin, catalog_xmin);
}

int
load_subscription_tuples(SubscriptionTuples *out, TransactionId catalog_xmin)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		own_transaction = !IsTransactionState();
	Oid			nspid;

	memset(out, 0, sizeof(*out));
	/*
	 * A walsender runs the startup callback outside any transaction; catalog access
	 * needs one. The SQL functions run inside the caller's, which we must not end.
	 */
	if (own_transaction)
		StartTransactionCommand();
	MemoryContextSwitchTo(result_cxt);

	nspid = get_namespace_oid(subscription_schema, true);
	if (OidIsValid(nspid))
		out->relid = get_relname_relid(subscription_table, nspid);
	if (OidIsValid(out->relid))
	{
		Relation	rel = table_open(out->relid, AccessShareLock);

		out->relfilenode = rel->rd_rel->relfilenode;
		if (table_predates_slot(out->relid, catalog_xmin))
			out->exact_load_certain = true;
		else if (relation_is_subscription_table(rel) &&
				 subscription_layout(RelationGetDescr(rel), &out->layout))
		{
			/* Taken now: every subscription committed so far. */
			Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());

			out->desc = CreateTupleDescCopy(RelationGetDescr(rel));
			out->count = copy_subscription_tuples(rel, snapshot, &out->tuples);
			UnregisterSnapshot(snapshot);
		}
		table_close(rel, AccessShareLock);
	}

	if (own_transaction)
	{
		CommitTransactionCommand();
		CurrentResourceOwner = owner;

		/*
		 * Our lookups filled the catalog caches from the current catalog; decoding
		 * must see each transaction's own catalog. The SQL functions discard these
		 * entries after the startup callback; a walsender does not, so we do.
		 */
		InvalidateSystemCaches();
	}
	MemoryContextSwitchTo(result_cxt);
	return out->count;
}

int
parse_subscription_tuples(const SubscriptionTuples *tuples, SubscriptionRow **rows)
{
	SubscriptionRow *result = (SubscriptionRow *) palloc(sizeof(SubscriptionRow) *
														 Max(tuples->count, 1));
	int			count = 0;

	for (int i = 0; i < tuples->count; i++)
	{
		if (read_subscription_row(tuples->tuples[i], tuples->desc, &tuples->layout,
								  &result[count]))
			count++;
	}
	*rows = result;
	return count;
}

static bool
is_own_xid(ReorderBufferTXN *txn, TransactionId xid)
{
	const dlist_head *subtxns = &txn->subtxns;

	if (xid == txn->xid)
		return true;
	/* dlist_foreach and dlist_container are C-only (type-checking builtins). */
	if (subtxns->head.next == NULL)
		return false;
	for (const dlist_node *node = subtxns->head.next; node != &subtxns->head; node = node->next)
	{
		const ReorderBufferTXN *sub = reinterpret_cast<const ReorderBufferTXN *>(
			reinterpret_cast<const char *>(node) - offsetof(ReorderBufferTXN, node));

		if (xid == sub->xid)
			return true;
	}
	return false;
}

/*
 * The snapshot builder's current snapshot, without txn itself. While txn's callbacks
 * run, the builder has processed every commit up to and including txn's. A decoding
 * snapshot lists the committed transactions in xip (the reverse of a normal
 * snapshot), so dropping txn's xids from it gives the catalog state just before txn
 * commits.
 */
static Snapshot
snapshot_before(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	Snapshot	builder = SnapBuildGetOrBuildSnapshot(ctx->snapshot_builder, txn->xid);
	Snapshot	snapshot = (Snapshot) palloc(sizeof(SnapshotData));
	uint32		n = 0;

	memcpy(snapshot, builder, sizeof(SnapshotData));
	snapshot->xip = (TransactionId *) palloc(sizeof(TransactionId) * Max(builder->xcnt, 1));
	for (uint32 i = 0; i < builder->xcnt; i++)
	{
		if (!is_own_xid(txn, builder->xip[i]))
			snapshot->xip[n++] = builder->xip[i];
	}
	snapshot->xcnt = n;
	/* Not txn's own view: no command ids to look up. */
	snapshot->subxip = NULL;
	snapshot->subxcnt = 0;
	/* A private copy, unknown to the snapshot manager until registered. */
	snapshot->copied = false;
	snapshot->regd_count = 0;
	snapshot->active_count = 0;
	return snapshot;
}

/* relid's relfilenode in the current (historic) catalog view; InvalidOid if absent. */
static Oid
historic_relfilenode(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			relfilenode;

	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	relfilenode = ((Form_pg_class) GETSTRUCT(tuple))->relfilenode;
	ReleaseSysCache(tuple);
	return relfilenode;
}

int
load_subscription_rows_before(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
							  const SubscriptionTuples *now, SubscriptionRow **rows)
{
	MemoryContext result_cxt = CurrentMemoryContext;
	Relation	rel;
	Snapshot	snapshot;
	int			count;

	/*
	 * The table must be, in the catalog as this transaction sees it, the one we know
	 * now: present, and on the same storage. Otherwise (created or recreated later,
	 * or truncated since, whose old storage may be unlinked) give up. The pg_class row
	 * is read from the catalog cache, which follows the historic snapshot; the relcache
	 * entry may have been built from the current catalog and is not trusted for this.
	 */
	if (historic_relfilenode(now->relid) != now->relfilenode)
		return -1;
	rel = try_table_open(now->relid, AccessShareLock);
	if (rel == NULL)
		return -1;
	if (!relation_is_subscription_table(rel))
	{
		table_close(rel, AccessShareLock);
		return -1;
	}
	/* Registered, so that TOASTed filters can be fetched during the scan. */
	snapshot = RegisterSnapshot(snapshot_before(ctx, txn));
	count = scan_subscription_rows(rel, snapshot, rows, result_cxt);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return count;
}
