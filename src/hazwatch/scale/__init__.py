"""The scale-out mode: ingest nodes publish validated batches to NATS JetStream subjects partitioned
by enterprise, worker nodes own partitions by lease and run the pipeline on them (see docs/scale.md)."""
