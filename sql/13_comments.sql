-- Issue 10: every object of the extension explains itself in psql (\dx+, \d+, \df+):
-- each member of the extension (function, table, view, type, schema) has a comment.
-- Expected: no rows.
SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS without_comment
  FROM pg_catalog.pg_depend d
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'batch_ops'
 WHERE d.deptype = 'e'
   AND d.classid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_class'::regclass,
                     'pg_catalog.pg_type'::regclass, 'pg_catalog.pg_namespace'::regclass)
   AND pg_catalog.obj_description(d.objid, d.classid::regclass::name) IS NULL
   -- a table's row type and array types are described by the table or element type
   AND NOT (d.classid = 'pg_catalog.pg_type'::regclass AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_type t WHERE t.oid = d.objid
               AND (t.typrelid <> 0 AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) <> 'c'
                    OR t.typelem <> 0 AND t.typlen = -1 AND t.typcategory = 'A')))
 ORDER BY 1;
-- The settings describe themselves too (SHOW ALL, pg_settings).
SELECT name FROM pg_catalog.pg_settings WHERE name LIKE 'batch_ops.%' AND coalesce(short_desc, '') = '' ORDER BY 1;
-- A composite type's comment is the one \dT shows.
SELECT pg_catalog.obj_description('batch_ops.job_status'::regtype, 'pg_type') IS NOT NULL AS job_status_described;
