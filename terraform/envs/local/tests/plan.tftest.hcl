# Plan-level tests of the local environment with mocked providers: no stack, no network.
# Run with `marketpulse infra check` (or `terraform test` in this folder after `marketpulse infra providers`).
mock_provider "kafka" {}

variables {
  bucket_prefix    = "unit"
  kafka_partitions = 4
  s3_port          = 29000
}

run "plans_the_platform_names" {
  command = plan

  assert {
    condition     = module.object_store.bucket_names == { raw = "unit-raw", features = "unit-features", models = "unit-models", checkpoints = "unit-checkpoints" }
    error_message = "the buckets must be <prefix>-raw, -features, -models, -checkpoints"
  }

  assert {
    condition     = length(module.streaming_bus.topic_names) == 9 && contains(module.streaming_bus.topic_names, "market.ticks.dlq")
    error_message = "six topics and three dead-letter topics"
  }

  assert {
    condition     = module.catalog.topics["market.ticks"].retention_ms == 604800000 && module.catalog.topics["market.ticks.dlq"].dead_letter
    error_message = "ticks keep 7 days; their DLQ is a dead-letter topic"
  }

  assert {
    condition     = output.app_env["MARKETPULSE_S3__ENDPOINT_URL"] == "http://127.0.0.1:29000" && output.app_env["MARKETPULSE_KAFKA__DEFAULT_PARTITIONS"] == "4"
    error_message = "the app's settings follow the variables"
  }
}

run "topic_prefix_isolates_every_topic" {
  command = plan

  variables {
    topic_prefix = "t1."
  }

  assert {
    condition     = alltrue([for name in module.streaming_bus.topic_names : startswith(name, "t1.")])
    error_message = "every topic carries the prefix"
  }
}

run "rejects_a_malformed_bootstrap_address" {
  command = plan

  variables {
    kafka_bootstrap_servers = "no-port-here"
  }

  expect_failures = [var.kafka_bootstrap_servers]
}

run "rejects_an_invalid_bucket_prefix" {
  command = plan

  variables {
    bucket_prefix = "Bad_Prefix"
  }

  expect_failures = [var.bucket_prefix]
}
