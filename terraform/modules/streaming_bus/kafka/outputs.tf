output "topic_names" {
  description = "Every topic this module manages."
  value       = sort([for t in kafka_topic.this : t.name])
}
