# The platform's names (topics, dead-letter topics, bucket areas) read from catalog.json, so every
# environment provisions exactly what marketpulse.contracts.topics.Topics and Settings.s3 name.
# No resources and no providers: a pure data module.
locals {
  catalog = jsondecode(file("${path.module}/catalog.json"))

  base_topics = {
    for name, topic in local.catalog.topics : "${var.topic_prefix}${name}" => {
      retention_ms = topic.retention_hours * 3600 * 1000
      dead_letter  = false
    }
  }
  dead_letter_topics = {
    for name, topic in local.catalog.topics : "${var.topic_prefix}${name}.dlq" => {
      retention_ms = local.catalog.dlq_retention_hours * 3600 * 1000
      dead_letter  = true
    } if topic.dlq
  }
  buckets = { for area in local.catalog.bucket_areas : area => "${var.bucket_prefix}-${area}" }
}
