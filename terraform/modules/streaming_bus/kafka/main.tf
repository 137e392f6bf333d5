# Topics on any Kafka the kafka provider reaches: the local broker, Amazon MSK, or a self-managed cluster.
resource "kafka_topic" "this" {
  for_each = var.topics

  name               = each.key
  partitions         = var.partitions
  replication_factor = var.replication_factor

  config = {
    "retention.ms"        = tostring(each.value.retention_ms)
    "cleanup.policy"      = "delete"
    "min.insync.replicas" = tostring(min(var.min_insync_replicas, var.replication_factor))
    # Dead-letter records carry the original bytes; keep them as sent.
    "compression.type" = each.value.dead_letter ? "producer" : "lz4"
  }
}
