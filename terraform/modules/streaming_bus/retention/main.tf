# What a Kafka-compatible service's retention and partition caps do to the catalog's topics: the days and
# partitions each topic gets, and the topics that would be cut. No resources and no providers, so
# `terraform test` proves the arithmetic here (tests/), where the cloud providers cannot run.
locals {
  caps = {
    # Event Hubs quotas: Standard keeps 1-7 days, 32 partitions per event hub; Premium up to 90 days, 100.
    eventhubs_standard = { days = 7, partitions = 32 }
    eventhubs_premium  = { days = 90, partitions = 100 }
  }
  cap         = local.caps[var.tier]
  wanted_days = { for name, t in var.topics : name => max(1, ceil(t.retention_ms / 86400000)) }
}
