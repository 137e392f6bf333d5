# The catalog's retention against Event Hubs' caps: Standard cuts the 30-day bars and 14-day dead letters to 7
# days and says so; Premium keeps everything.
variables {
  topics = {
    "market.ticks"      = { retention_ms = 604800000, dead_letter = false }
    "market.bars.1m"    = { retention_ms = 2592000000, dead_letter = false }
    "market.ticks.dlq"  = { retention_ms = 1209600000, dead_letter = true }
    "signals.sentiment" = { retention_ms = 3600000, dead_letter = false }
  }
  partitions = 64
}

run "standard_caps_and_names_what_it_cuts" {
  command = plan
  variables {
    tier = "eventhubs_standard"
  }
  assert {
    condition     = jsonencode(output.capped_topics) == jsonencode(["market.bars.1m", "market.ticks.dlq"])
    error_message = "Standard must name the 30-day and 14-day topics as capped."
  }
  assert {
    condition     = output.retention_days["market.bars.1m"] == 7 && output.retention_days["market.ticks"] == 7
    error_message = "Standard keeps at most 7 days."
  }
  assert {
    condition     = output.retention_days["signals.sentiment"] == 1
    error_message = "Retention under a day rounds up to one day (Event Hubs' minimum)."
  }
  assert {
    condition     = output.partitions == 32
    error_message = "Standard caps partitions at 32."
  }
}

run "premium_keeps_the_catalog" {
  command = plan
  variables {
    tier = "eventhubs_premium"
  }
  assert {
    condition     = length(output.capped_topics) == 0
    error_message = "Premium keeps 90 days: nothing is capped."
  }
  assert {
    condition     = output.retention_days["market.bars.1m"] == 30 && output.retention_days["market.ticks.dlq"] == 14
    error_message = "Premium keeps the catalog's retention."
  }
  assert {
    condition     = output.partitions == 64
    error_message = "Premium allows up to 100 partitions."
  }
}

run "unknown_tier_is_rejected" {
  command = plan
  variables {
    tier = "eventhubs_basic"
  }
  expect_failures = [var.tier]
}
