/*
 * relation_shape.h: what the plugin needs to know about a table to write its rows.
 *
 * Owns the per-relation output metadata, built once per relcache version of the
 * relation: for each attribute its JSON name, its type name as realtime-js expects it
 * (pg_type.typname: int8, _int4, timestamptz), how its values are written (its
 * ValueFormat, json_value.h), whether it is dropped and whether the replica identity
 * carries it in old tuples. The
 * "schema", "table" and "columns" members of the document are pre-rendered. Plain data,
 * palloc'd in the caller's memory context, so no syscache lookup happens per row.
 */
#ifndef PG_REALTIME_RELATION_SHAPE_H
#define PG_REALTIME_RELATION_SHAPE_H

#include "pg_headers.h"
#include "json_value.h"

struct OutputColumn
{
	bool		dropped;
	bool		in_identity;	/* carried by old tuples under the replica identity */
	int16		typlen;
	const ValueFormat *format;	/* how its values are written (json_value.h) */
	char	   *json_name;		/* quoted and escaped */
	int			json_name_len;
};

struct RelationShape
{
	int			natts;
	OutputColumn *columns;
	char		replident;		/* REPLICA_IDENTITY_* */
	/* ,"schema":"...","table":"..." */
	char	   *names_json;
	int			names_json_len;
	/* ,"columns":[{"name":"...","type":"..."},...] */
	char	   *columns_json;
	int			columns_json_len;
};

/* arrays_as_json: array columns are written as JSON arrays rather than text. */
RelationShape *relation_shape_create(Relation rel, bool arrays_as_json);

#endif
