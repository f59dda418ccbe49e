-- batch_ops 0.1.0 -> 0.2.0 (the second release). CREATE EXTENSION batch_ops runs
-- batch_ops--0.1.0.sql and then this file; ALTER EXTENSION batch_ops UPDATE runs this
-- file alone. Sections are grouped by what they fix or add.
\echo Use "ALTER EXTENSION batch_ops UPDATE TO '0.2.0'" to load this file. \quit
