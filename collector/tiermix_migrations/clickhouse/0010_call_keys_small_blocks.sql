-- A look-up of a request's keys (ingest/write.py KNOWN_KEYS_SQL: a collector catching up after a restart,
-- or run with TIERMIX_REPLICAS=many) reads one granule per key asked, and a granule is read by
-- decompressing the whole compressed block that holds it. With the default 64 KiB blocks, 3,000 keys
-- asked of 20M stored decompressed ~115 MB (1,762 blocks) and took 134 ms; with 8 KiB blocks, 23 MB and
-- 75-84 ms (docs/performance.md, "the storage-lookup path"). The keys are random 64-bit numbers, which no
-- codec shrinks, so smaller blocks cost nothing in disk. A setting of the table: new parts and every merge
-- write the small blocks; parts written before keep theirs until merged (TTL and partitions by month bound
-- how long). Parts under 10 MiB are written compact, a block per granule, and are not changed by it.
ALTER TABLE call_keys {on_cluster} MODIFY SETTING min_compress_block_size = 8192, max_compress_block_size = 8192;
