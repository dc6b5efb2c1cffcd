"""Tierwise on Apache Spark: the same pandas functions, run per partner bucket.

Point-in-time features are per partner, so partitioning by partner is exact. Every table is
cut into partner-hash buckets (`buckets.bucket_column`: CRC-32 of the partner id, the same in
Spark and in Python), each bucket's slice travels as one Arrow IPC blob (`frames`), and the
blobs of a bucket meet in one `groupBy("bucket").applyInArrow` that runs the pandas feature
builder on them. `pyspark` is an optional extra (`pip install -e '.[spark]'`); nothing here is
imported unless an engine asks for Spark.
"""
